// MARK: - Block index

/// Lookup structures over the full-length blocks of an old signature, built once per match.
///
/// Three levels, cheapest first, so that the per-byte cost of a miss is one bit test:
///
/// 1. `filter`: a bit set indexed by a multiplicative hash of the weak checksum, at least 64 bits
///    per block (false-positive rate under 1/64 when weak values are spread; 16 bits per block
///    measured about 30 % slower on unrelated data because of the extra slow-path visits).
/// 2. weak set: open addressing (linear probing, load <= 1/2) over the *distinct* weak values.
///    Blocks sharing a weak value collapse into one entry, so a file whose blocks all share one
///    weak checksum does not create a long chain to walk.
/// 3. strong table: open addressing from the 128-bit strong hash to the first block with that
///    hash (identical blocks collapse the same way). A confirmed weak hit costs one strong hash of
///    the window plus an expected O(1) probe, whatever the number of blocks with that weak value.
///
/// Probe sequences are bounded by the load factor (at most half full), never by the data: a
/// probe walks only over distinct keys. The short last block (if any) is not indexed; the matcher
/// checks it explicitly where it can occur (as a continuation and at the end of the new file).
final class BlockIndex {
    /// Number of indexed (full-length) blocks.
    let count: Int
    let filter: UnsafeMutablePointer<UInt64>
    let filterWords: Int
    /// Shift applied to `weak &* multiplier` to get a filter bit index.
    let filterShift: UInt32
    private let weakSlots: UnsafeMutablePointer<UInt64>
    private let weakMask: Int
    private let weakShift: UInt32
    private let strongSlots: UnsafeMutablePointer<Int32>
    private let strongMask: Int
    private let blocks: UnsafeMutablePointer<BlockSignature>

    static let multiplier: UInt32 = 0x9E37_79B1

    init(signature: FileSignature) {
        let count = signature.fullBlockCount
        self.count = count

        // Filter: 2^filterBits bits, >= 64 bits per block, >= 64 Ki bits (8 KB).
        let filterBits = max(16, Self.log2Ceiling(max(count, 1) * 64))
        filterShift = UInt32(32 - min(filterBits, 32))
        filterWords = max(1, (1 << min(filterBits, 32)) / 64)
        filter = .allocate(capacity: filterWords)
        filter.initialize(repeating: 0, count: filterWords)

        let weakBits = max(4, Self.log2Ceiling(max(count, 1) * 2))
        let weakCapacity = 1 << weakBits
        weakMask = weakCapacity - 1
        weakShift = UInt32(32 - min(weakBits, 32))
        weakSlots = .allocate(capacity: weakCapacity)
        weakSlots.initialize(repeating: 0, count: weakCapacity)

        let strongCapacity = weakCapacity
        strongMask = strongCapacity - 1
        strongSlots = .allocate(capacity: strongCapacity)
        strongSlots.initialize(repeating: -1, count: strongCapacity)

        blocks = .allocate(capacity: max(count, 1))
        signature.blocks.withUnsafeBufferPointer { source in
            if let start = source.baseAddress, count > 0 {
                blocks.initialize(from: start, count: count)
            }
        }
        for index in 0..<count { insert(index) }
    }

    deinit {
        filter.deallocate()
        weakSlots.deallocate()
        strongSlots.deallocate()
        blocks.deinitialize(count: count)
        blocks.deallocate()
    }

    var isEmpty: Bool { count == 0 }

    // MARK: Building

    private func insert(_ index: Int) {
        let block = blocks[index]
        let mixed = block.weak &* Self.multiplier
        let bit = Int(truncatingIfNeeded: mixed >> filterShift)
        filter[bit >> 6] |= 1 << UInt64(bit & 63)

        // Weak set: distinct values only.
        let entry = UInt64(block.weak) | (1 << 32)
        var slot = Int(truncatingIfNeeded: mixed >> weakShift) & weakMask
        while weakSlots[slot] != 0 && weakSlots[slot] != entry { slot = (slot + 1) & weakMask }
        weakSlots[slot] = entry

        // Strong table: first block with a given strong hash wins.
        slot = Int(truncatingIfNeeded: block.strong.low) & strongMask
        while strongSlots[slot] >= 0 {
            let other = blocks[Int(strongSlots[slot])]
            if other.strong == block.strong && other.weak == block.weak { return }
            slot = (slot + 1) & strongMask
        }
        strongSlots[slot] = Int32(truncatingIfNeeded: index)
    }

    // MARK: Lookup

    /// Whether the filter bit for `weak` is set (false means: no block has this weak value).
    @inline(__always)
    func filterMayContain(_ weak: UInt32) -> Bool {
        let bit = Int(truncatingIfNeeded: (weak &* Self.multiplier) >> filterShift)
        return filter[bit >> 6] & (1 << UInt64(bit & 63)) != 0
    }

    /// Whether some indexed block has weak checksum `weak` (exact).
    @inline(__always)
    func containsWeak(_ weak: UInt32) -> Bool {
        let entry = UInt64(weak) | (1 << 32)
        var slot = Int(truncatingIfNeeded: (weak &* Self.multiplier) >> weakShift) & weakMask
        while true {
            let stored = weakSlots[slot]
            if stored == entry { return true }
            if stored == 0 { return false }
            slot = (slot + 1) & weakMask
        }
    }

    /// The first indexed block whose strong and weak checksums equal the given ones.
    func block(strong: Hash128, weak: UInt32) -> Int? {
        var slot = Int(truncatingIfNeeded: strong.low) & strongMask
        while true {
            let stored = strongSlots[slot]
            if stored < 0 { return nil }
            let block = blocks[Int(stored)]
            if block.strong == strong && block.weak == weak { return Int(stored) }
            slot = (slot + 1) & strongMask
        }
    }

    private static func log2Ceiling(_ value: Int) -> Int {
        var bits = 0
        while (1 << bits) < value { bits += 1 }
        return bits
    }
}
