import Foundation

// MARK: - SeededGenerator

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast generator fully determined by its
/// seed, the same on every machine, so a failing randomized test reproduces from the seed
/// it prints. The one seeded generator of every test target; not for anything secret.
///
/// The seed is the initial state as is: `SeededGenerator(seed: s)` yields the same sequence
/// as the per-suite copies it replaced (except MuxDeltaTests', which mixed the seed first).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    /// The current state; each `next()` advances it by the golden-ratio increment.
    public private(set) var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    // MARK: Bytes

    /// `count` random bytes. With `alphabet` below 256 every byte is `next() % alphabet`
    /// (one draw per byte): small alphabets give low-entropy data with many repeats. With
    /// 256, each draw gives eight bytes, lowest first.
    public mutating func bytes(_ count: Int, alphabet: Int = 256) -> [UInt8] {
        precondition(alphabet > 0 && alphabet <= 256, "alphabet must be 1...256, got \(alphabet)")
        var bytes = [UInt8](repeating: 0, count: max(0, count))
        if alphabet < 256 {
            for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: next() % UInt64(alphabet)) }
            return bytes
        }
        var index = 0
        while index < bytes.count {
            var word = next()
            for _ in 0..<8 where index < bytes.count {
                bytes[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
        return bytes
    }

    /// `count` random bytes as `Data` (the same bytes ``bytes(_:alphabet:)`` gives).
    public mutating func data(_ count: Int) -> Data { Data(bytes(count)) }
}
