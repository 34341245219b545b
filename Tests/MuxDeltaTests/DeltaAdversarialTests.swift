import MuxTestSupport
import Testing
@testable import MuxDelta

// MARK: - Weak-checksum collision builders

/// Adversarial inputs for rsync's weak checksum. Adding `+1, -1` at positions `i, i+1` and
/// `-1, +1` at `j, j+1` leaves both `s1` and `s2` unchanged, so these builders make many different
/// blocks with one weak value.
enum WeakCollisions {
    /// Applies the sum-preserving perturbation number `variant` to `block` (bytes must be in
    /// 1...254 so no byte wraps).
    static func perturb(_ block: [UInt8], variant: Int) -> [UInt8] {
        var result = block
        let n = block.count
        // Enumerate pairs (i, j) with j >= i + 2 and j + 1 < n.
        var remaining = variant
        for i in 0..<(n - 3) {
            let choices = n - 1 - (i + 2)
            if remaining < choices {
                let j = i + 2 + remaining
                result[i] &+= 1
                result[i + 1] &-= 1
                result[j] &-= 1
                result[j + 1] &+= 1
                return result
            }
            remaining -= choices
        }
        return result
    }

    /// Bytes in 1...254 so perturbations never wrap.
    static func safeBytes(_ count: Int, using rng: inout SeededGenerator) -> [UInt8] {
        rng.bytes(count, alphabet: 254).map { $0 + 1 }
    }

    /// `count` distinct blocks of `blockSize` bytes sharing one weak checksum.
    static func sameWeakBlocks(count: Int, blockSize: Int, using rng: inout SeededGenerator) -> [[UInt8]] {
        let base = safeBytes(blockSize, using: &rng)
        return (0..<count).map { perturb(base, variant: $0) }
    }

    /// A pattern `P` of `blockSize` bytes and an old file made of every rotation of `P`, each
    /// perturbed: every window of `P` repeated has the weak checksum of some old block but the
    /// strong hash of none, i.e. a weak hit and a failed strong check at every byte.
    static func rotations(blockSize: Int, using rng: inout SeededGenerator) -> (pattern: [UInt8], old: [UInt8]) {
        let pattern = safeBytes(blockSize, using: &rng)
        var old: [UInt8] = []
        old.reserveCapacity(blockSize * blockSize)
        for rotation in 0..<blockSize {
            let rotated = Array(pattern[rotation...] + pattern[..<rotation])
            old.append(contentsOf: perturb(rotated, variant: 0))
        }
        return (pattern, old)
    }
}

// MARK: - Tests

@Suite("Adversarial weak-checksum inputs")
struct DeltaAdversarialTests {
    @Test("perturbed blocks really share the weak checksum and differ in content")
    func builderSanity() {
        var rng = SeededGenerator(seed: 40)
        let blocks = WeakCollisions.sameWeakBlocks(count: 200, blockSize: 64, using: &rng)
        #expect(Set(blocks.map { WeakChecksum($0).value }).count == 1)
        #expect(Set(blocks).count == 200)
        #expect(Set(blocks.map { StrongHash.of($0) }).count == 200)
    }

    @Test("many blocks with one weak value: shuffled and edited, all found")
    func sameWeakShuffled() throws {
        var rng = SeededGenerator(seed: 41)
        let blockSize = 64
        let blocks = WeakCollisions.sameWeakBlocks(count: 1_500, blockSize: blockSize, using: &rng)
        let old = Array(blocks.joined())
        var order = Array(blocks.indices)
        order.shuffle(using: &rng)
        var new: [UInt8] = []
        for (position, index) in order.enumerated() {
            if position % 100 == 0 { new.append(contentsOf: rng.bytes(10)) }
            new.append(contentsOf: blocks[index])
        }
        let signature = FileSignature(of: old, blockSize: blockSize)
        let result = DeltaMatcher.match(old: signature, new: new)
        try checkDelta(result, old: old, new: new, newBlockSize: DeltaBlockSize.forLength(new.count))
        #expect(result.stats.matchedBytes == UInt64(old.count))
        #expect(result.stats.literalBytes == 150)
    }

    @Test("a weak hit at every byte: correct, and false alarms are counted")
    func weakHitEverywhere() throws {
        var rng = SeededGenerator(seed: 42)
        let blockSize = 64
        let (pattern, old) = WeakCollisions.rotations(blockSize: blockSize, using: &rng)
        let new = Array([[UInt8]](repeating: pattern, count: 200).joined())
        let signature = FileSignature(of: old, blockSize: blockSize)
        let result = DeltaMatcher.match(old: signature, new: new)
        try checkDelta(result, old: old, new: new, newBlockSize: DeltaBlockSize.forLength(new.count))
        #expect(result.stats.matchedBytes == 0)
        #expect(result.stats.falseAlarms > 0)
    }

    @Test("with the false-alarm budget spent, hits are skipped and the delta stays correct")
    func budgetExhausted() throws {
        var rng = SeededGenerator(seed: 43)
        let blockSize = 64
        let (pattern, old) = WeakCollisions.rotations(blockSize: blockSize, using: &rng)
        let new = Array([[UInt8]](repeating: pattern, count: 300).joined())
        let signature = FileSignature(of: old, blockSize: blockSize)
        let tight = DeltaMatcher.Options(falseAlarmBudgetPerByte: 1, falseAlarmBurstBytes: 4 * blockSize)
        let result = DeltaMatcher.match(old: signature, new: new, options: tight)
        try checkDelta(result, old: old, new: new, newBlockSize: DeltaBlockSize.forLength(new.count))
        #expect(result.stats.skippedWeakHits > 0)
        // Work stays linear: strong checks are bounded by budget * bytes / blockSize + burst.
        #expect(result.stats.strongChecks <= UInt64(new.count / blockSize + 8))
    }

    @Test("a real block hidden in colliding junk is still found with the default budget")
    func realBlockAmongCollisions() throws {
        var rng = SeededGenerator(seed: 44)
        let blockSize = 64
        let (pattern, old) = WeakCollisions.rotations(blockSize: blockSize, using: &rng)
        let junk = Array([[UInt8]](repeating: pattern, count: 50).joined())
        let real = Array(old[(blockSize * 10)..<(blockSize * 13)])
        let new = junk + [7, 7, 7] + real + junk
        let signature = FileSignature(of: old, blockSize: blockSize)
        let result = DeltaMatcher.match(old: signature, new: new)
        try checkDelta(result, old: old, new: new, newBlockSize: DeltaBlockSize.forLength(new.count))
        #expect(result.operations.contains(.copy(oldOffset: UInt64(blockSize * 10), length: UInt64(blockSize * 3))))
    }
}
