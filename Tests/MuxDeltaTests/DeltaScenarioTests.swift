import MuxTestSupport
import Testing
@testable import MuxDelta

// MARK: - Named scenarios

@Suite("Delta scenarios")
struct DeltaScenarioTests {
    private func delta(old: [UInt8], new: [UInt8], blockSize: Int? = nil,
                       options: DeltaMatcher.Options = .init()) throws -> DeltaResult
    {
        let signature = FileSignature(of: old, blockSize: blockSize ?? DeltaBlockSize.forLength(old.count))
        let result = DeltaMatcher.match(old: signature, new: new, options: options)
        try checkDelta(result, old: old, new: new, newBlockSize: DeltaBlockSize.forLength(new.count))
        return result
    }

    // MARK: Coalescing

    @Test("an unchanged file is exactly one copy", arguments: [1, 699, 700, 701, 1400, 50_000, 490_001, 1_000_000])
    func unchanged(length: Int) throws {
        var rng = SeededGenerator(seed: UInt64(length))
        let bytes = rng.bytes(length)
        let result = try delta(old: bytes, new: bytes)
        #expect(result.operations == [.copy(oldOffset: 0, length: UInt64(length))])
        #expect(result.stats.literalBytes == 0)
        #expect(result.stats.falseAlarms == 0)
    }

    @Test("empty old and empty new")
    func empties() throws {
        var rng = SeededGenerator(seed: 7)
        let bytes = rng.bytes(3_000)
        #expect(try delta(old: [], new: []).operations.isEmpty)
        #expect(try delta(old: [], new: bytes).operations == [.literal(newOffset: 0, length: 3_000)])
        #expect(try delta(old: bytes, new: []).operations.isEmpty)
    }

    // MARK: Inserts, deletes, moves

    @Test("a 100-byte insert mid-file costs about the insert plus at most one block")
    func midFileInsert() throws {
        var rng = SeededGenerator(seed: 1)
        let old = rng.bytes(1 << 20)
        let blockSize = DeltaBlockSize.forLength(old.count)
        var new = old
        new.insert(contentsOf: rng.bytes(100), at: old.count / 2 + 123)
        let result = try delta(old: old, new: new)
        #expect(result.stats.literalBytes >= 100)
        #expect(result.stats.literalBytes <= UInt64(100 + blockSize))
        #expect(result.operations.count == 3)  // copy, literal, copy
    }

    @Test("a deleted range costs less than two blocks of literals")
    func midFileDelete() throws {
        var rng = SeededGenerator(seed: 2)
        let old = rng.bytes(300_000)
        var new = old
        new.removeSubrange(100_000..<100_500)
        let result = try delta(old: old, new: new)
        // The blocks the deletion cuts into are lost: here 100_000..<100_500 touches two 700-byte
        // blocks, leaving 600 + 300 of their bytes as literals.
        #expect(result.stats.literalBytes == 900)
        #expect(result.stats.literalBytes < UInt64(2 * DeltaBlockSize.forLength(old.count)))
    }

    @Test("moved block runs are found and each run is one copy")
    func moves() throws {
        var rng = SeededGenerator(seed: 3)
        let blockSize = 700
        let runs = (0..<4).map { _ in rng.bytes(blockSize * 3) }
        let old = runs[0] + runs[1] + runs[2] + runs[3]
        let new = runs[2] + runs[3] + runs[0] + runs[1]
        let result = try delta(old: old, new: new, blockSize: blockSize)
        let run = UInt64(blockSize * 3)
        #expect(result.operations == [.copy(oldOffset: 2 * run, length: 2 * run),
                                      .copy(oldOffset: 0, length: 2 * run)])
    }

    // MARK: Ends of files and the short last block

    @Test("appending after a short last block still copies the whole old file")
    func appendAfterShortTail() throws {
        var rng = SeededGenerator(seed: 4)
        let old = rng.bytes(700 * 10 + 300)
        let new = old + rng.bytes(5_000)
        let result = try delta(old: old, new: new, blockSize: 700)
        #expect(result.operations == [.copy(oldOffset: 0, length: UInt64(old.count)),
                                      .literal(newOffset: UInt64(old.count), length: 5_000)])
    }

    @Test("prepending finds the blocks and the short last block at the end")
    func prepend() throws {
        var rng = SeededGenerator(seed: 5)
        let old = rng.bytes(700 * 6 + 55)
        let new = rng.bytes(50) + old
        let result = try delta(old: old, new: new, blockSize: 700)
        #expect(result.operations == [.literal(newOffset: 0, length: 50),
                                      .copy(oldOffset: 0, length: UInt64(old.count))])
    }

    @Test("truncation copies the surviving full blocks")
    func truncate() throws {
        var rng = SeededGenerator(seed: 6)
        let old = rng.bytes(700 * 8)
        let new = Array(old[0..<(700 * 5 + 100)])
        let result = try delta(old: old, new: new, blockSize: 700)
        #expect(result.operations == [.copy(oldOffset: 0, length: 3_500),
                                      .literal(newOffset: 3_500, length: 100)])
    }

    @Test("an old file shorter than one block is matched where it can be")
    func tinyOld() throws {
        var rng = SeededGenerator(seed: 8)
        let old = rng.bytes(100)
        let extra = rng.bytes(40)
        #expect(try delta(old: old, new: old + extra).operations
            == [.copy(oldOffset: 0, length: 100), .literal(newOffset: 100, length: 40)])
        #expect(try delta(old: old, new: extra + old).operations
            == [.literal(newOffset: 0, length: 40), .copy(oldOffset: 0, length: 100)])
    }

    // MARK: Degenerate inputs

    @Test("one repeated byte: every block has the same weak and strong sum")
    func repeatedByte() throws {
        let old = [UInt8](repeating: 0x61, count: 200_000)
        var new = [UInt8](repeating: 0x61, count: 350_000)
        let unchanged = try delta(old: old, new: old)
        #expect(unchanged.operations == [.copy(oldOffset: 0, length: 200_000)])

        new[123_456] = 0x62
        let edited = try delta(old: old, new: new)
        #expect(edited.stats.literalBytes <= 2 * 700)
        #expect(edited.operations.count <= 8)
    }

    @Test("identical blocks: copies continue the previous copy")
    func identicalBlocksPreferContinuation() throws {
        var rng = SeededGenerator(seed: 9)
        let unit = rng.bytes(64)
        let old = Array([[UInt8]](repeating: unit, count: 50).joined())
        let new = Array(old[0..<(64 * 30)])
        let result = try delta(old: old, new: new, blockSize: 64)
        #expect(result.operations == [.copy(oldOffset: 0, length: 64 * 30)])
    }
}
