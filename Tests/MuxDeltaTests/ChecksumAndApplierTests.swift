import MuxTestSupport
import Testing
@testable import MuxDelta

// MARK: - Block size rule

@Suite("Block size, checksums, applier")
struct ChecksumAndApplierTests {
    @Test("rsync's block size rule at known points")
    func knownBlockSizes() {
        #expect(DeltaBlockSize.forLength(0) == 700)
        #expect(DeltaBlockSize.forLength(489_999) == 700)
        #expect(DeltaBlockSize.forLength(490_000) == 700)
        #expect(DeltaBlockSize.forLength(1_000_000) == 1_000)
        #expect(DeltaBlockSize.forLength(100_000_000) == 10_000)
        #expect(DeltaBlockSize.forLength(UInt64(256) << 20) == 16_384)
        #expect(DeltaBlockSize.forLength(UInt64(1) << 30) == 32_768)
        #expect(DeltaBlockSize.forLength(UInt64(1) << 34) == 131_072)
        #expect(DeltaBlockSize.forLength(UInt64.max) == 131_072)
        #expect(DeltaBlockSize.forLength(-5) == 700)
    }

    @Test("block size is floor(sqrt) rounded down to a multiple of 8", arguments: 0..<20)
    func blockSizeShape(seed: Int) {
        var rng = SeededGenerator(seed: UInt64(50 + seed))
        for _ in 0..<500 {
            let length = UInt64.random(in: 490_000...(UInt64(1) << 34) - 1, using: &rng)
            let size = UInt64(DeltaBlockSize.forLength(length))
            #expect(size % 8 == 0 || size == 700)
            #expect(size * size <= length)
            #expect((size + 8) * (size + 8) > length || size == 131_072)
        }
    }

    // MARK: Weak checksum

    /// rsync's get_checksum1, written the obvious way.
    private func reference(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var s1: UInt32 = 0
        var s2: UInt32 = 0
        for byte in bytes {
            s1 &+= UInt32(byte)
            s2 &+= s1
        }
        return (s1 & 0xffff) + (s2 << 16)
    }

    @Test("weak checksum equals the reference and rolling equals recomputing", arguments: [1, 2, 7, 8, 9, 64, 700])
    func rolling(window: Int) {
        var rng = SeededGenerator(seed: UInt64(window))
        let bytes = rng.bytes(window + 300)
        var weak = WeakChecksum(Array(bytes[0..<window]))
        #expect(weak.value == reference(bytes[0..<window]))
        for start in 1...300 {
            weak.roll(out: bytes[start - 1], in: bytes[start + window - 1])
            #expect(weak.value == reference(bytes[start..<(start + window)]))
        }
    }

    @Test("strong hash is XXH3-128 and streaming equals one-shot")
    func strongHash() {
        // Known XXH3-128 of the empty input (seed 0): 99aa06d3014798d86001c324468d497f.
        #expect(StrongHash.of([UInt8]()).description == "99aa06d3014798d86001c324468d497f")
        var rng = SeededGenerator(seed: 60)
        let bytes = rng.bytes(10_000)
        let hasher = StreamingStrongHasher()
        for range in randomChunks(count: bytes.count, blockSize: 300, using: &rng) {
            bytes[range].withUnsafeBytes { hasher.update($0) }
        }
        #expect(hasher.digest() == StrongHash.of(bytes))
    }

    // MARK: Applier

    @Test("applier rejects copies outside the old file and short literal sources")
    func applierErrors() {
        let old: [UInt8] = [1, 2, 3, 4]
        #expect(throws: DeltaError.copyOutOfRange(oldOffset: 2, length: 3, oldLength: 4)) {
            try DeltaApplier.apply([.copy(oldOffset: 2, length: 3)], old: old, newLiteralSource: [])
        }
        #expect(throws: DeltaError.self) {
            try DeltaApplier.apply([.copy(oldOffset: UInt64.max, length: 2)], old: old, newLiteralSource: [])
        }
        #expect(throws: DeltaError.self) {
            try DeltaApplier.apply([.literal(newOffset: 3, length: 5)], old: old, newLiteralSource: [9, 9, 9, 9])
        }
        #expect(throws: DeltaError.self) {
            try DeltaApplier.apply([.literal(newOffset: 0, length: 2)], old: old) { _, _ in [1] }
        }
    }

    @Test("applier output, materialized ops and whole-file verification")
    func applierOutput() throws {
        let old: [UInt8] = [10, 11, 12, 13, 14]
        let new: [UInt8] = [12, 13, 99, 98, 10]
        let ops: [DeltaOperation] = [.copy(oldOffset: 2, length: 2), .literal(newOffset: 2, length: 2),
                                     .copy(oldOffset: 0, length: 1)]
        #expect(try DeltaApplier.apply(ops, old: old, newLiteralSource: new) == new)
        let materialized = try DeltaOperation.materialize(ops, newBytes: new)
        #expect(materialized[1] == .literal([99, 98]))
        #expect(try DeltaApplier.apply(materialized, old: old) == new)

        let signature = FileSignature(of: new)
        #expect(throws: Never.self) { try DeltaApplier.verify(new, against: signature) }
        #expect(throws: DeltaError.self) { try DeltaApplier.verify(old, against: signature) }
        #expect(throws: DeltaError.self) { try DeltaApplier.verify([12, 13, 99, 98, 11], against: signature) }
        #expect(signature.matchesWholeFile(new))
    }
}
