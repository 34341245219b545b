import MuxTestSupport
import Testing
@testable import MuxDelta

// MARK: - Property tests over random edit scripts

/// For many seeds: build an old file, apply a random edit script, match with random chunking,
/// and check apply(ops, old) == new, the streamed new signature, coverage and coalescing.
/// A failing seed is printed in the test name, so it reproduces exactly.
@Suite("Delta properties")
struct DeltaPropertyTests {
    /// Old lengths chosen around the interesting boundaries for a block size.
    static func oldLength(blockSize: Int, using rng: inout SeededGenerator) -> Int {
        switch Int.random(in: 0..<7, using: &rng) {
        case 0: return 0                                                     // empty old
        case 1: return blockSize > 1 ? Int.random(in: 1..<blockSize, using: &rng) : 0  // shorter than a block
        case 2: return blockSize * Int.random(in: 1...12, using: &rng)      // exact multiple
        case 3: return blockSize * Int.random(in: 1...12, using: &rng) + 1  // one past a multiple
        case 4: return blockSize * Int.random(in: 1...12, using: &rng) - 1
        default: return Int.random(in: 0...(14 * blockSize), using: &rng)
        }
    }

    @Test("random edit scripts, small custom block sizes", arguments: 0..<300)
    func smallBlocks(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(seed))
        let blockSize = [1, 2, 3, 7, 8, 16, 33, 64][Int.random(in: 0..<8, using: &rng)]
        let alphabet = [2, 4, 256][Int.random(in: 0..<3, using: &rng)]
        try runCase(blockSize: blockSize, alphabet: alphabet, rng: &rng)
    }

    @Test("random edit scripts, rsync block size", arguments: 0..<60)
    func rsyncBlocks(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(10_000 + seed))
        let alphabet = [3, 256][Int.random(in: 0..<2, using: &rng)]
        try runCase(blockSize: DeltaBlockSize.minimum, alphabet: alphabet, rng: &rng)
    }

    private func runCase(blockSize: Int, alphabet: Int, rng: inout SeededGenerator) throws {
        let old = rng.bytes(Self.oldLength(blockSize: blockSize, using: &rng), alphabet: alphabet)
        var new = old
        let editCount = Int.random(in: 0...5, using: &rng)
        for _ in 0..<editCount {
            applyRandomEdit(&new, blockSize: blockSize, using: &rng, alphabet: alphabet)
        }
        if Int.random(in: 0..<20, using: &rng) == 0 { new = [] }  // empty new

        let signature = FileSignature(of: old, blockSize: blockSize)
        // New block size: usually the rsync choice, sometimes a different small one.
        let newBlockSize = Bool.random(using: &rng)
            ? DeltaBlockSize.forLength(new.count)
            : [1, 5, blockSize, blockSize * 2][Int.random(in: 0..<4, using: &rng)]

        // Sometimes a starved false-alarm budget: skipped weak hits may cost literals, never
        // correctness.
        let starved = Int.random(in: 0..<3, using: &rng) == 0
        let options = starved
            ? DeltaMatcher.Options(falseAlarmBudgetPerByte: Int.random(in: 0...2, using: &rng),
                                   falseAlarmBurstBytes: Int.random(in: 0...(3 * blockSize), using: &rng))
            : DeltaMatcher.Options()

        let chunksA = randomChunks(count: new.count, blockSize: blockSize, using: &rng)
        let resultA = runMatcher(old: signature, new: new, newBlockSize: newBlockSize, chunks: chunksA,
                                 options: options)
        try checkDelta(resultA, old: old, new: new, newBlockSize: newBlockSize)

        // The result does not depend on how the stream was chunked.
        let chunksB = randomChunks(count: new.count, blockSize: blockSize, using: &rng)
        let resultB = runMatcher(old: signature, new: new, newBlockSize: newBlockSize, chunks: chunksB,
                                 options: options)
        #expect(resultA == resultB, "chunking changed the delta")

        if editCount == 0 && !new.isEmpty {
            #expect(resultA.operations == [.copy(oldOffset: 0, length: UInt64(new.count))])
        }
    }

    @Test("edits exactly at block boundaries keep everything else matched", arguments: 0..<40)
    func boundaryEdits(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(20_000 + seed))
        let blockSize = 32
        let blocks = Int.random(in: 4...20, using: &rng)
        let old = rng.bytes(blockSize * blocks)
        var new = old
        let boundary = Int.random(in: 0...blocks, using: &rng) * blockSize
        let insert = rng.bytes(Int.random(in: 1...50, using: &rng))
        new.insert(contentsOf: insert, at: boundary)

        let result = DeltaMatcher.match(old: FileSignature(of: old, blockSize: blockSize), new: new)
        try checkDelta(result, old: old, new: new, newBlockSize: DeltaBlockSize.forLength(new.count))
        // An insert on a boundary costs exactly its own bytes.
        #expect(result.stats.literalBytes == UInt64(insert.count))
        #expect(result.stats.matchedBytes == UInt64(old.count))
    }

    @Test("the streamed signature equals a one-shot signature for any chunking", arguments: 0..<40)
    func signatureChunking(seed: Int) {
        var rng = SeededGenerator(seed: UInt64(30_000 + seed))
        let blockSize = [1, 7, 64, 700][Int.random(in: 0..<4, using: &rng)]
        let bytes = rng.bytes(Int.random(in: 0...(9 * blockSize + 5), using: &rng))
        let builder = SignatureBuilder(blockSize: blockSize)
        for range in randomChunks(count: bytes.count, blockSize: blockSize, using: &rng) {
            builder.append(bytes[range])
        }
        let streamed = builder.finish()
        #expect(streamed == FileSignature(of: bytes, blockSize: blockSize))
        #expect(streamed.fileHash == StrongHash.of(bytes))
        #expect(streamed.fileLength == UInt64(bytes.count))
        #expect(streamed.blockCount == (bytes.count + blockSize - 1) / blockSize)
        for index in 0..<streamed.blockCount {
            let start = index * blockSize
            let block = Array(bytes[start..<min(bytes.count, start + blockSize)])
            #expect(streamed.blocks[index] == BlockSignature(weak: WeakChecksum(block).value,
                                                             strong: StrongHash.of(block)))
        }
    }
}
