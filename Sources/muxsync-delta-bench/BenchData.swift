import MuxDelta

// MARK: - Deterministic data

/// xorshift64*: fast deterministic bytes for benchmark inputs.
struct BenchRNG: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}

enum BenchData {
    /// `count` pseudo-random bytes.
    static func random(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = BenchRNG(seed: seed)
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            let words = count / 8
            let wordPointer = raw.baseAddress?.assumingMemoryBound(to: UInt64.self)
            for index in 0..<words { wordPointer?[index] = rng.next() }
            for index in (words * 8)..<count { raw[index] = UInt8(truncatingIfNeeded: rng.next()) }
        }
        return bytes
    }

    /// Text-like bytes: words from a 2,000-word vocabulary of lowercase letters, separated by
    /// spaces and newlines (low entropy, the kind of data where rsync's weak sum is weakest).
    static func text(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = BenchRNG(seed: seed)
        let vocabulary: [[UInt8]] = (0..<2_000).map { _ in
            (0..<Int.random(in: 2...10, using: &rng)).map { _ in UInt8(0x61 + rng.next() % 26) }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 16)
        while bytes.count < count {
            bytes.append(contentsOf: vocabulary[Int(rng.next() % 2_000)])
            bytes.append(rng.next() % 12 == 0 ? 0x0A : 0x20)
        }
        bytes.removeLast(bytes.count - count)
        return bytes
    }

    /// `bytes` with `count` random `size`-byte ranges replaced by fresh random bytes.
    static func scatteredEdits(_ bytes: [UInt8], count: Int, size: Int, seed: UInt64) -> [UInt8] {
        var result = bytes
        var rng = BenchRNG(seed: seed)
        for _ in 0..<count {
            let at = Int.random(in: 0...(bytes.count - size), using: &rng)
            result.replaceSubrange(at..<(at + size), with: random(size, seed: rng.next()))
        }
        return result
    }

    /// Random bytes in 1...254, so sum-preserving perturbations never wrap.
    static func safe(_ count: Int, seed: UInt64) -> [UInt8] {
        random(count, seed: seed).map { 1 + $0 % 254 }
    }

    // MARK: Weak-checksum collisions

    /// Adds `+1, -1` at `i, i+1` and `-1, +1` at `j, j+1` for the `variant`-th pair `(i, j)`,
    /// `j >= i + 2`: both rsync sums (and so the weak checksum) are unchanged.
    static func perturb(_ block: [UInt8], variant: Int) -> [UInt8] {
        var result = block
        let n = block.count
        var remaining = variant
        for i in 0..<(n - 3) {
            let choices = n - i - 3
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

    /// Weak hit at every byte: `new` repeats a pattern of `blockSize` bytes; `old` holds every
    /// rotation of the pattern, perturbed, so each window's weak checksum matches an old block
    /// and its strong hash matches none. `old` is `blockSize^2` bytes, so rsync's rule gives it
    /// exactly `blockSize` when that is a multiple of 8 and at least 700.
    static func rotationCollisions(blockSize: Int, newLength: Int, seed: UInt64) -> (old: [UInt8], new: [UInt8]) {
        let pattern = safe(blockSize, seed: seed)
        var old: [UInt8] = []
        old.reserveCapacity(blockSize * blockSize)
        for rotation in 0..<blockSize {
            old.append(contentsOf: perturb(Array(pattern[rotation...] + pattern[..<rotation]), variant: 0))
        }
        var new: [UInt8] = []
        new.reserveCapacity(newLength + blockSize)
        while new.count < newLength { new.append(contentsOf: pattern) }
        new.removeLast(new.count - newLength)
        return (old, new)
    }

    /// Every old block shares one weak checksum (distinct contents); `new` is the same blocks
    /// shuffled, with a few bytes inserted every 64 blocks.
    static func sameWeakShuffled(length: Int, seed: UInt64) -> (old: [UInt8], new: [UInt8]) {
        let blockSize = DeltaBlockSize.forLength(length)
        let count = length / blockSize
        let base = safe(blockSize, seed: seed)
        let blocks = (0..<count).map { perturb(base, variant: $0) }
        var rng = BenchRNG(seed: seed &+ 1)
        var order = Array(0..<count)
        order.shuffle(using: &rng)
        var old: [UInt8] = []
        old.reserveCapacity(count * blockSize)
        for block in blocks { old.append(contentsOf: block) }
        var new: [UInt8] = []
        new.reserveCapacity(count * blockSize + count)
        for (position, index) in order.enumerated() {
            if position % 64 == 0 { new.append(contentsOf: [0x21, 0x22, 0x23]) }
            new.append(contentsOf: blocks[index])
        }
        return (old, new)
    }
}
