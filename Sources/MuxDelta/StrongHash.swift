import CXXHash

// MARK: - Hash128

/// A 128-bit XXH3 digest, used as the strong per-block hash and as the whole-file hash.
///
/// XXH3-128 is not a cryptographic hash: it protects against accidental collisions (about 2^-128
/// per comparison for unrelated data) but not against someone crafting colliding files on purpose.
public struct Hash128: Hashable, Sendable, CustomStringConvertible {
    /// The low 64 bits of the digest (`XXH128_hash_t.low64`).
    public var low: UInt64
    /// The high 64 bits of the digest (`XXH128_hash_t.high64`).
    public var high: UInt64

    /// Creates a digest from its two halves.
    public init(low: UInt64, high: UInt64) {
        self.low = low
        self.high = high
    }

    init(_ digest: XXH128_hash_t) {
        self.low = digest.low64
        self.high = digest.high64
    }

    /// The digest as 32 lowercase hex digits, high half first (the canonical XXH128 order).
    public var description: String {
        hex(high) + hex(low)
    }

    private func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

// MARK: - One-shot hashing

/// XXH3-128 helpers: one-shot hashing of a byte range.
public enum StrongHash {
    /// The XXH3-128 digest of `bytes`.
    public static func of(_ bytes: UnsafeRawBufferPointer) -> Hash128 {
        Hash128(XXH3_128bits(bytes.baseAddress, bytes.count))
    }

    /// The XXH3-128 digest of `bytes`.
    public static func of(_ bytes: [UInt8]) -> Hash128 {
        bytes.withUnsafeBytes { of($0) }
    }

    /// The XXH3-128 digest of `bytes`.
    public static func of(_ bytes: ArraySlice<UInt8>) -> Hash128 {
        bytes.withUnsafeBytes { of($0) }
    }

    /// The XXH3-128 digest of `count` bytes at `start` (hot-loop form, no buffer wrapper).
    @inline(__always)
    static func of(_ start: UnsafePointer<UInt8>, count: Int) -> Hash128 {
        Hash128(XXH3_128bits(UnsafeRawPointer(start), count))
    }

    /// XXH3-64 of `bytes`; used as the integrity trailer of serialized signatures.
    static func checksum64(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        XXH3_64bits(bytes.baseAddress, bytes.count)
    }
}

// MARK: - Streaming hasher

/// A streaming XXH3-128 hasher for the whole-file digest (owns a C `XXH3_state_t`).
///
/// Feeding the same bytes in any chunking gives the same digest as `StrongHash.of`.
final class StreamingStrongHasher {
    private let state: OpaquePointer

    init() {
        // XXH3_createState only fails when malloc fails for a few hundred bytes; there is no
        // meaningful recovery from that, and silently producing a wrong digest would be worse.
        guard let created = XXH3_createState() else {
            fatalError("MuxDelta: out of memory allocating an XXH3 state")
        }
        state = created
        XXH3_128bits_reset(state)
    }

    deinit {
        XXH3_freeState(state)
    }

    func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        XXH3_128bits_update(state, bytes.baseAddress, bytes.count)
    }

    func digest() -> Hash128 {
        Hash128(XXH3_128bits_digest(state))
    }
}
