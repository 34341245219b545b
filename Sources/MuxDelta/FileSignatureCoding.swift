// MARK: - Binary format

/// Compact binary form of a `FileSignature` (all integers little-endian):
///
///     offset  size  field
///     0       4     magic "MXDS"
///     4       1     format version (1)
///     5       4     blockSize (1 ... DeltaBlockSize.serializationLimit)
///     9       8     fileLength
///     17      16    fileHash (low 64, high 64)
///     33      20*n  blocks: weak u32, strong low u64, strong high u64; n = ceil(fileLength/blockSize)
///     33+20n  8     XXH3-64 of every preceding byte
///
/// The block count is not stored: it follows from the length and block size, so a length field
/// that disagrees with the data is detected as truncation or trailing bytes. The trailer catches
/// flipped bits inside hashes, which no structural check could notice.
extension FileSignature {
    /// The serialization format version written by `serialized()`.
    public static let formatVersion: UInt8 = 1

    static let magic: [UInt8] = [0x4D, 0x58, 0x44, 0x53]  // "MXDS"
    static let headerSize = 33
    static let blockRecordSize = 20
    static let trailerSize = 8

    // MARK: Encoding

    /// The signature in the compact binary format (`33 + 20 * blockCount + 8` bytes).
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.headerSize + Self.blockRecordSize * blocks.count + Self.trailerSize)
        out.append(contentsOf: Self.magic)
        out.append(Self.formatVersion)
        Self.appendLE(UInt32(truncatingIfNeeded: blockSize), to: &out)
        Self.appendLE(fileLength, to: &out)
        Self.appendLE(fileHash.low, to: &out)
        Self.appendLE(fileHash.high, to: &out)
        for block in blocks {
            Self.appendLE(block.weak, to: &out)
            Self.appendLE(block.strong.low, to: &out)
            Self.appendLE(block.strong.high, to: &out)
        }
        let checksum = out.withUnsafeBytes { StrongHash.checksum64($0) }
        Self.appendLE(checksum, to: &out)
        return out
    }

    private static func appendLE<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    // MARK: Decoding

    /// Parses bytes produced by `serialized()`.
    ///
    /// - Throws: `DeltaError` (`.badMagic`, `.unsupportedVersion`, `.truncatedSignature`,
    ///   `.trailingBytes`, `.checksumMismatch`, `.inconsistentSignature`) for anything that is not
    ///   a well-formed signature. Never traps on malformed input.
    public init(deserializing bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { try FileSignature(deserializing: $0) }
    }

    /// Parses bytes produced by `serialized()`; see `init(deserializing: [UInt8])`.
    public init(deserializing bytes: UnsafeRawBufferPointer) throws {
        let minimum = Self.headerSize + Self.trailerSize
        guard bytes.count >= Self.magic.count else {
            throw DeltaError.truncatedSignature(expected: minimum, actual: bytes.count)
        }
        guard Array(bytes[0..<Self.magic.count]) == Self.magic else { throw DeltaError.badMagic }
        guard bytes.count > 4 else {
            throw DeltaError.truncatedSignature(expected: minimum, actual: bytes.count)
        }
        guard bytes[4] == Self.formatVersion else { throw DeltaError.unsupportedVersion(bytes[4]) }
        guard bytes.count >= minimum else {
            throw DeltaError.truncatedSignature(expected: minimum, actual: bytes.count)
        }

        let rawBlockSize = Self.readLE(UInt32.self, bytes, at: 5)
        let fileLength = Self.readLE(UInt64.self, bytes, at: 9)
        let fileHash = Hash128(low: Self.readLE(UInt64.self, bytes, at: 17),
                               high: Self.readLE(UInt64.self, bytes, at: 25))
        guard rawBlockSize >= 1, rawBlockSize <= UInt32(DeltaBlockSize.serializationLimit) else {
            throw DeltaError.inconsistentSignature(
                "block size \(rawBlockSize) is outside 1...\(DeltaBlockSize.serializationLimit)")
        }
        let blockSize = Int(rawBlockSize)

        // Size check before any allocation: a hostile length cannot make us reserve memory.
        let count = FileSignature.blockCount(fileLength: fileLength, blockSize: blockSize)
        let maxCount = UInt64((Int.max - minimum) / Self.blockRecordSize)
        guard count <= maxCount else {
            throw DeltaError.inconsistentSignature(
                "file length \(fileLength) with \(blockSize)-byte blocks needs \(count) blocks")
        }
        let expectedSize = minimum + Int(count) * Self.blockRecordSize
        guard bytes.count >= expectedSize else {
            throw DeltaError.truncatedSignature(expected: expectedSize, actual: bytes.count)
        }
        guard bytes.count == expectedSize else {
            throw DeltaError.trailingBytes(count: bytes.count - expectedSize)
        }
        let payloadSize = expectedSize - Self.trailerSize
        let stored = Self.readLE(UInt64.self, bytes, at: payloadSize)
        let computed = StrongHash.checksum64(UnsafeRawBufferPointer(rebasing: bytes[0..<payloadSize]))
        guard stored == computed else { throw DeltaError.checksumMismatch }

        var blocks: [BlockSignature] = []
        blocks.reserveCapacity(Int(count))
        var offset = Self.headerSize
        for _ in 0..<Int(count) {
            let weak = Self.readLE(UInt32.self, bytes, at: offset)
            let low = Self.readLE(UInt64.self, bytes, at: offset + 4)
            let high = Self.readLE(UInt64.self, bytes, at: offset + 12)
            blocks.append(BlockSignature(weak: weak, strong: Hash128(low: low, high: high)))
            offset += Self.blockRecordSize
        }
        self.init(validatedBlockSize: blockSize, fileLength: fileLength, blocks: blocks, fileHash: fileHash)
    }

    /// Reads a little-endian integer; callers have checked `offset + size <= bytes.count`.
    private static func readLE<T: FixedWidthInteger>(_: T.Type, _ bytes: UnsafeRawBufferPointer, at offset: Int) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
