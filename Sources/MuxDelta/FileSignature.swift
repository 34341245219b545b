// MARK: - Block signature

/// The checksums of one block of a file version.
public struct BlockSignature: Hashable, Sendable {
    /// rsync-style weak rolling checksum of the block (`WeakChecksum.value`).
    public var weak: UInt32
    /// XXH3-128 of the block's bytes.
    public var strong: Hash128

    /// Creates a block signature from its checksums.
    public init(weak: UInt32, strong: Hash128) {
        self.weak = weak
        self.strong = strong
    }
}

// MARK: - File signature

/// The signature of one file version: what a peer needs to compute a delta against it without
/// having the bytes.
///
/// The file is cut into blocks of `blockSize` bytes; the last block is shorter when the length is
/// not a multiple of the block size (an empty file has no blocks). Each block carries a weak
/// rolling checksum and the full 128-bit XXH3 strong hash; the whole file carries its own XXH3-128
/// so that a reconstructed file can be verified end to end.
///
/// Strong hashes are kept at 128 bits: a signature has about `sqrt(length)` blocks, so even for a
/// 1 GB file the whole signature is about 640 KB (0.06 % of the file) and truncating to 64 bits
/// would save little while raising the false-match odds per comparison from 2^-128 to 2^-64.
public struct FileSignature: Hashable, Sendable {
    /// The block size the file was cut with (at least 1).
    public let blockSize: Int
    /// The file length in bytes.
    public let fileLength: UInt64
    /// One entry per block, in file order.
    public let blocks: [BlockSignature]
    /// XXH3-128 of the whole file.
    public let fileHash: Hash128

    /// Creates a signature from its parts, checking that the block count fits the length.
    ///
    /// - Throws: `DeltaError.inconsistentSignature` when `blockSize < 1` or when `blocks.count`
    ///   is not `ceil(fileLength / blockSize)`.
    public init(blockSize: Int, fileLength: UInt64, blocks: [BlockSignature], fileHash: Hash128) throws {
        guard blockSize >= 1 else {
            throw DeltaError.inconsistentSignature("block size \(blockSize) is not positive")
        }
        let expected = FileSignature.blockCount(fileLength: fileLength, blockSize: blockSize)
        guard UInt64(blocks.count) == expected else {
            throw DeltaError.inconsistentSignature(
                "\(blocks.count) blocks for a \(fileLength)-byte file with \(blockSize)-byte blocks "
                    + "(expected \(expected))")
        }
        self.init(validatedBlockSize: blockSize, fileLength: fileLength, blocks: blocks, fileHash: fileHash)
    }

    /// Creates a signature whose consistency the caller has already established.
    init(validatedBlockSize blockSize: Int, fileLength: UInt64, blocks: [BlockSignature], fileHash: Hash128) {
        self.blockSize = blockSize
        self.fileLength = fileLength
        self.blocks = blocks
        self.fileHash = fileHash
    }

    // MARK: Convenience

    /// The signature of `bytes`, cut with `DeltaBlockSize.forLength(bytes.count)` unless a block
    /// size is given. Meant for tests and small in-memory files; stream large files through
    /// `SignatureBuilder`.
    public init(of bytes: [UInt8], blockSize: Int? = nil) {
        let builder = SignatureBuilder(blockSize: blockSize ?? DeltaBlockSize.forLength(bytes.count))
        builder.append(bytes)
        self = builder.finish()
    }

    /// The number of blocks.
    public var blockCount: Int { blocks.count }

    /// The length of block `index` (the last block may be shorter than `blockSize`).
    public func length(ofBlock index: Int) -> Int {
        let start = UInt64(index) * UInt64(blockSize)
        return Int(min(UInt64(blockSize), fileLength - start))
    }

    /// The byte offset of block `index` in the file.
    public func offset(ofBlock index: Int) -> UInt64 {
        UInt64(index) * UInt64(blockSize)
    }

    /// The length of the last block when it is shorter than `blockSize`, else nil.
    public var shortTailLength: Int? {
        let remainder = Int(fileLength % UInt64(blockSize))
        return remainder == 0 ? nil : remainder
    }

    /// The number of full-length blocks.
    public var fullBlockCount: Int { Int(fileLength / UInt64(blockSize)) }

    /// Whether `bytes` hash to this signature's whole-file hash and length.
    public func matchesWholeFile(_ bytes: [UInt8]) -> Bool {
        UInt64(bytes.count) == fileLength && StrongHash.of(bytes) == fileHash
    }

    /// `ceil(fileLength / blockSize)`.
    static func blockCount(fileLength: UInt64, blockSize: Int) -> UInt64 {
        let size = UInt64(blockSize)
        return fileLength / size + (fileLength % size == 0 ? 0 : 1)
    }
}
