// MARK: - Signature accumulator

/// The parts of a signature being built: block checksums in order plus the streaming whole-file
/// hash. Shared by `SignatureBuilder` (which cuts blocks itself) and `DeltaMatcher` (which cuts
/// blocks out of its own window buffer and can hand over checksums it already computed).
struct SignatureAccumulator {
    let blockSize: Int
    private(set) var blocks: [BlockSignature] = []
    private let fileHasher = StreamingStrongHasher()

    init(blockSize: Int) {
        self.blockSize = blockSize
    }

    /// Feeds bytes to the whole-file hash (every byte exactly once, in file order).
    func hashFileBytes(_ bytes: UnsafeRawBufferPointer) {
        fileHasher.update(bytes)
    }

    /// Hashes one block (full, or the short last one) and records it.
    @inline(__always)
    mutating func addBlock(_ start: UnsafePointer<UInt8>, count: Int) {
        let weak = WeakChecksum(start, count: count).value
        blocks.append(BlockSignature(weak: weak, strong: StrongHash.of(start, count: count)))
    }

    /// Records a block whose checksums the caller already knows.
    @inline(__always)
    mutating func addBlock(_ block: BlockSignature) {
        blocks.append(block)
    }

    /// The finished signature for a file of `length` bytes.
    func finish(length: UInt64) -> FileSignature {
        FileSignature(validatedBlockSize: blockSize, fileLength: length, blocks: blocks,
                      fileHash: fileHasher.digest())
    }
}

// MARK: - Signature builder

/// Builds the `FileSignature` of a file streamed through it in chunks of any size.
///
/// Memory use is one block (for a block split across chunks) plus the signature itself, so a
/// 1 GB file can be signed while reading it in 1 MB pieces. Full blocks inside a chunk are hashed
/// in place without copying.
///
///     let builder = SignatureBuilder(expectedLength: size)
///     while let chunk = try reader.next() { builder.append(chunk) }
///     let signature = builder.finish()
///
/// The block size is fixed up front, so pass the length you expect (from `stat`). If the stream
/// turns out longer or shorter, the signature is still correct and self-describing (it records
/// its block size and true length); it merely uses a block size chosen for the expected length.
/// Not thread-safe: use one builder from one task at a time.
public final class SignatureBuilder {
    /// The block size the file is cut with.
    public let blockSize: Int
    private var accumulator: SignatureAccumulator
    private var pending: [UInt8] = []
    private var length: UInt64 = 0
    private var finished = false

    /// A builder that cuts blocks of `DeltaBlockSize.forLength(expectedLength)` bytes.
    public convenience init(expectedLength: UInt64) {
        self.init(blockSize: DeltaBlockSize.forLength(expectedLength))
    }

    /// A builder with an explicit block size (must be at least 1).
    public init(blockSize: Int) {
        precondition(blockSize >= 1, "SignatureBuilder: block size must be at least 1, got \(blockSize)")
        self.blockSize = blockSize
        self.accumulator = SignatureAccumulator(blockSize: blockSize)
        pending.reserveCapacity(blockSize)
    }

    /// The number of bytes appended so far.
    public var bytesAppended: UInt64 { length }

    // MARK: Streaming

    /// Appends the next bytes of the file (any chunk size, including empty).
    public func append(_ chunk: UnsafeRawBufferPointer) {
        precondition(!finished, "SignatureBuilder: append after finish(); create a new builder")
        guard chunk.count > 0, let base = chunk.baseAddress else { return }
        accumulator.hashFileBytes(chunk)
        length &+= UInt64(chunk.count)
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        var index = 0

        // Complete a block left over from the previous chunk.
        if !pending.isEmpty {
            let take = min(blockSize - pending.count, chunk.count)
            pending.append(contentsOf: UnsafeBufferPointer(start: bytes, count: take))
            index = take
            if pending.count == blockSize {
                pending.withUnsafeBufferPointer { buffer in
                    if let start = buffer.baseAddress { accumulator.addBlock(start, count: blockSize) }
                }
                pending.removeAll(keepingCapacity: true)
            }
        }
        // Full blocks straight from the caller's memory.
        while chunk.count - index >= blockSize {
            accumulator.addBlock(bytes + index, count: blockSize)
            index += blockSize
        }
        if index < chunk.count {
            pending.append(contentsOf: UnsafeBufferPointer(start: bytes + index, count: chunk.count - index))
        }
    }

    /// Appends the next bytes of the file.
    public func append(_ chunk: [UInt8]) {
        chunk.withUnsafeBytes { append($0) }
    }

    /// Appends the next bytes of the file.
    public func append(_ chunk: ArraySlice<UInt8>) {
        chunk.withUnsafeBytes { append($0) }
    }

    /// Hashes the short last block (if any) and returns the signature. Call once.
    public func finish() -> FileSignature {
        precondition(!finished, "SignatureBuilder: finish() called twice")
        finished = true
        if !pending.isEmpty {
            pending.withUnsafeBufferPointer { buffer in
                if let start = buffer.baseAddress { accumulator.addBlock(start, count: buffer.count) }
            }
            pending.removeAll()
        }
        return accumulator.finish(length: length)
    }
}
