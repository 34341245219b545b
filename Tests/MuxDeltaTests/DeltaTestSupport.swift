import MuxTestSupport
import Testing
@testable import MuxDelta

// MARK: - Edit scripts

/// One random edit applied to `bytes`; positions are biased towards block boundaries.
func applyRandomEdit(_ bytes: inout [UInt8], blockSize: Int, using rng: inout SeededGenerator, alphabet: Int) {
    func position(upTo limit: Int) -> Int {
        guard limit > 0 else { return 0 }
        if Bool.random(using: &rng) {
            let boundaries = limit / blockSize
            return min(limit, Int.random(in: 0...boundaries, using: &rng) * blockSize)
        }
        return Int.random(in: 0...limit, using: &rng)
    }
    func length() -> Int {
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: return Int.random(in: 1...8, using: &rng)
        case 1: return blockSize
        case 2: return Int.random(in: 1...(3 * blockSize), using: &rng)
        default: return Int.random(in: 1...200, using: &rng)
        }
    }
    switch Int.random(in: 0..<8, using: &rng) {
    case 0:  // insert
        let at = position(upTo: bytes.count)
        bytes.insert(contentsOf: rng.bytes(length(), alphabet: alphabet), at: at)
    case 1:  // delete
        let at = position(upTo: bytes.count)
        let count = min(length(), bytes.count - at)
        bytes.removeSubrange(at..<(at + count))
    case 2:  // replace in place
        let at = position(upTo: bytes.count)
        let count = min(length(), bytes.count - at)
        bytes.replaceSubrange(at..<(at + count), with: rng.bytes(count, alphabet: alphabet))
    case 3:  // move a range
        let at = position(upTo: bytes.count)
        let count = min(length(), bytes.count - at)
        let moved = Array(bytes[at..<(at + count)])
        bytes.removeSubrange(at..<(at + count))
        bytes.insert(contentsOf: moved, at: position(upTo: bytes.count))
    case 4:  // duplicate a range elsewhere
        let at = position(upTo: bytes.count)
        let count = min(length(), bytes.count - at)
        bytes.insert(contentsOf: Array(bytes[at..<(at + count)]), at: position(upTo: bytes.count))
    case 5:  // append
        bytes.append(contentsOf: rng.bytes(length(), alphabet: alphabet))
    case 6:  // truncate
        bytes.removeSubrange(position(upTo: bytes.count)...)
    default:  // prepend
        bytes.insert(contentsOf: rng.bytes(length(), alphabet: alphabet), at: 0)
    }
}

// MARK: - Feeding and checking

/// Splits `count` bytes into random chunk sizes: tiny, around the block size, or large.
func randomChunks(count: Int, blockSize: Int, using rng: inout SeededGenerator) -> [Range<Int>] {
    var ranges: [Range<Int>] = []
    var start = 0
    let style = Int.random(in: 0..<4, using: &rng)
    while start < count {
        let size: Int
        switch style {
        case 0: size = Int.random(in: 1...7, using: &rng)
        case 1: size = Int.random(in: 1...(2 * blockSize + 1), using: &rng)
        case 2: size = count  // one chunk
        default: size = Int.random(in: 0...3, using: &rng) == 0 ? 1 : Int.random(in: 1...(5 * blockSize), using: &rng)
        }
        let end = min(count, start + max(size, 1))
        ranges.append(start..<end)
        start = end
    }
    return ranges
}

/// Runs the matcher over `new` in the given chunks.
func runMatcher(old: FileSignature, new: [UInt8], newBlockSize: Int, chunks: [Range<Int>],
                options: DeltaMatcher.Options = .init()) -> DeltaResult
{
    let matcher = DeltaMatcher(oldSignature: old, newBlockSize: newBlockSize, options: options)
    for range in chunks { matcher.append(new[range]) }
    return matcher.finish()
}

/// Checks every invariant of a delta result against the files it was computed from.
func checkDelta(_ result: DeltaResult, old: [UInt8], new: [UInt8], newBlockSize: Int,
                sourceLocation: SourceLocation = #_sourceLocation) throws
{
    let rebuilt = try DeltaApplier.apply(result.operations, old: old, newLiteralSource: new)
    #expect(rebuilt == new, "apply(ops, old) != new", sourceLocation: sourceLocation)
    let materialized = try DeltaOperation.materialize(result.operations, newBytes: new)
    #expect(try DeltaApplier.apply(materialized, old: old) == new, sourceLocation: sourceLocation)

    let fresh = FileSignature(of: new, blockSize: newBlockSize)
    #expect(result.newSignature == fresh, "matcher's new signature differs from a fresh one",
            sourceLocation: sourceLocation)
    #expect(result.stats.matchedBytes + result.stats.literalBytes == UInt64(new.count),
            sourceLocation: sourceLocation)

    // Operations cover the new file in order, literals name their own range, and nothing that
    // should have been coalesced was left apart.
    var newOffset: UInt64 = 0
    var previous: DeltaOperation?
    for operation in result.operations {
        #expect(operation.length > 0, sourceLocation: sourceLocation)
        if case let .literal(offset, _) = operation {
            #expect(offset == newOffset, sourceLocation: sourceLocation)
        }
        switch (previous, operation) {
        case (.literal?, .literal):
            Issue.record("adjacent literals not coalesced", sourceLocation: sourceLocation)
        case let (.copy(lastOffset, lastLength)?, .copy(offset, _)):
            #expect(lastOffset + lastLength != offset, "contiguous copies not coalesced",
                    sourceLocation: sourceLocation)
        default:
            break
        }
        newOffset += operation.length
        previous = operation
    }
    #expect(newOffset == UInt64(new.count), sourceLocation: sourceLocation)
    let literalTotal = result.operations.reduce(UInt64(0)) { total, operation in
        if case let .literal(_, length) = operation { return total + length }
        return total
    }
    #expect(literalTotal == result.stats.literalBytes, sourceLocation: sourceLocation)
}
