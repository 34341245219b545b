// MARK: - Weak rolling checksum

/// rsync's weak rolling checksum of a window of bytes.
///
/// `s1` is the sum of the bytes, `s2` the sum of the running `s1` values, both modulo 2^32; the
/// 32-bit value is `(s1 & 0xffff) | (s2 << 16)`, exactly as rsync's `get_checksum1` with
/// `CHAR_OFFSET == 0` (but over unsigned bytes). Rolling the window one byte to the right costs a
/// handful of integer operations:
///
///     s1 = s1 - out + in
///     s2 = s2 - windowLength * out + s1
///
/// The checksum is only a filter: collisions are easy to construct (for example `+1, -1` at
/// positions `i, i+1` and `-1, +1` at positions `j, j+1` leave both sums unchanged), so every weak
/// hit is confirmed with the strong hash.
public struct WeakChecksum: Hashable, Sendable {
    /// Sum of the window's bytes (mod 2^32).
    public private(set) var s1: UInt32
    /// Sum of the running `s1` values, i.e. sum of `(length - k) * byte[k]` (mod 2^32).
    public private(set) var s2: UInt32
    /// The window length this checksum was computed over.
    public let windowLength: Int

    /// The 32-bit checksum value stored in signatures.
    @inline(__always)
    public var value: UInt32 { (s1 & 0xffff) | (s2 << 16) }

    /// The checksum of `bytes` (the window is the whole buffer).
    public init(_ bytes: UnsafeRawBufferPointer) {
        let typed = bytes.bindMemory(to: UInt8.self)
        if let base = typed.baseAddress {
            self = WeakChecksum(base, count: typed.count)
        } else {
            self.init(s1: 0, s2: 0, windowLength: 0)
        }
    }

    /// The checksum of `bytes` (the window is the whole array).
    public init(_ bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { WeakChecksum($0) }
    }

    init(s1: UInt32, s2: UInt32, windowLength: Int) {
        self.s1 = s1
        self.s2 = s2
        self.windowLength = windowLength
    }

    /// The checksum of `count` bytes at `start`.
    ///
    /// Works on 16 (then 8) bytes at a time with SWAR arithmetic, which needs no SIMD
    /// instructions and so is as fast in a baseline x86-64 or arm64 build: for a word holding
    /// bytes `b0...b7`, `plain = sum(b_i)` and `weighted = sum((8 - i) * b_i)` come out of the top
    /// 16-bit lane of 64-bit multiplies; then `s2 += 8 * s1 + weighted` and `s1 += plain`.
    @inline(__always)
    init(_ start: UnsafePointer<UInt8>, count: Int) {
        var s1: UInt32 = 0
        var s2: UInt32 = 0
        var index = 0
        let raw = UnsafeRawPointer(start)
        let lowBytes: UInt64 = 0x00FF_00FF_00FF_00FF
        let ones: UInt64 = 0x0001_0001_0001_0001
        // Lane k of `even` holds byte 2k, lane k of `odd` byte 2k+1. Multiplying by these constants
        // puts sum(weight * lane) in the top lane; no lane exceeds 16 bits, so nothing carries.
        let evenWeights: UInt64 = 2 | (4 << 16) | (6 << 32) | (8 << 48)
        let oddWeights: UInt64 = 1 | (3 << 16) | (5 << 32) | (7 << 48)
        // 16 bytes per step: the first word's weights are 8 higher (its bytes are followed by 8
        // more), folded into its multipliers. Top-lane bound 34,680 < 2^16, so still no carries.
        let evenWeightsHigh = evenWeights &+ 8 &* ones
        let oddWeightsHigh = oddWeights &+ 8 &* ones
        while index &+ 16 <= count {
            let first = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let second = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index &+ 8, as: UInt64.self))
            let even0 = first & lowBytes
            let odd0 = (first >> 8) & lowBytes
            let even1 = second & lowBytes
            let odd1 = (second >> 8) & lowBytes
            let plain = UInt32(truncatingIfNeeded: ((even0 &+ odd0 &+ even1 &+ odd1) &* ones) >> 48)
            let weighted = UInt32(truncatingIfNeeded: (even0 &* evenWeightsHigh &+ odd0 &* oddWeightsHigh
                &+ even1 &* evenWeights &+ odd1 &* oddWeights) >> 48)
            s2 = s2 &+ (s1 << 4) &+ weighted
            s1 = s1 &+ plain
            index &+= 16
        }
        while index &+ 8 <= count {
            let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let even = word & lowBytes
            let odd = (word >> 8) & lowBytes
            let plain = UInt32(truncatingIfNeeded: ((even &+ odd) &* ones) >> 48)
            let weighted = UInt32(truncatingIfNeeded: (even &* evenWeights &+ odd &* oddWeights) >> 48)
            s2 = s2 &+ (s1 << 3) &+ weighted
            s1 = s1 &+ plain
            index &+= 8
        }
        while index < count {
            s1 = s1 &+ UInt32(start[index])
            s2 = s2 &+ s1
            index &+= 1
        }
        self.init(s1: s1, s2: s2, windowLength: count)
    }

    // MARK: Rolling

    /// Slides the window one byte: `outgoing` leaves on the left, `incoming` enters on the right.
    @inline(__always)
    public mutating func roll(out outgoing: UInt8, in incoming: UInt8) {
        s1 = s1 &- UInt32(outgoing) &+ UInt32(incoming)
        s2 = s2 &- UInt32(truncatingIfNeeded: windowLength) &* UInt32(outgoing) &+ s1
    }
}
