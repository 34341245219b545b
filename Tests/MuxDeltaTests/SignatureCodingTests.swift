import MuxTestSupport
import Testing
@testable import MuxDelta

// MARK: - Serialization

@Suite("Signature serialization")
struct SignatureCodingTests {
    static func sample(length: Int, blockSize: Int, seed: UInt64) -> FileSignature {
        var rng = SeededGenerator(seed: seed)
        return FileSignature(of: rng.bytes(length), blockSize: blockSize)
    }

    @Test("round trip", arguments: [(0, 700), (1, 700), (700, 700), (5_000, 700), (12_345, 64), (100, 1)])
    func roundTrip(length: Int, blockSize: Int) throws {
        let signature = Self.sample(length: length, blockSize: blockSize, seed: UInt64(length))
        let bytes = signature.serialized()
        #expect(bytes.count == 33 + 20 * signature.blockCount + 8)
        #expect(try FileSignature(deserializing: bytes) == signature)
    }

    @Test("every truncation is rejected")
    func truncation() {
        let bytes = Self.sample(length: 3_000, blockSize: 700, seed: 1).serialized()
        for length in 0..<bytes.count {
            #expect(throws: DeltaError.self) { try FileSignature(deserializing: Array(bytes[0..<length])) }
        }
    }

    @Test("every single-bit flip is rejected")
    func bitFlips() {
        let bytes = Self.sample(length: 2_000, blockSize: 700, seed: 2).serialized()
        for index in bytes.indices {
            for bit in [0, 3, 7] {
                var corrupt = bytes
                corrupt[index] ^= UInt8(1 << bit)
                #expect(throws: DeltaError.self) { try FileSignature(deserializing: corrupt) }
            }
        }
    }

    @Test("specific errors name the cause")
    func specificErrors() {
        let bytes = Self.sample(length: 1_500, blockSize: 700, seed: 3).serialized()
        #expect(throws: DeltaError.badMagic) { try FileSignature(deserializing: [0, 1, 2, 3, 4, 5]) }
        var version = bytes
        version[4] = 99
        #expect(throws: DeltaError.unsupportedVersion(99)) { try FileSignature(deserializing: version) }
        #expect(throws: DeltaError.trailingBytes(count: 1)) { try FileSignature(deserializing: bytes + [0]) }
        var flipped = bytes
        flipped[40] ^= 0xFF
        #expect(throws: DeltaError.checksumMismatch) { try FileSignature(deserializing: flipped) }
        #expect(DeltaError.checksumMismatch.description.contains("corrupt"))
    }

    @Test("header fields out of range are rejected before allocating")
    func hostileHeaders() {
        // Block size 0 and a huge file length, each with a correct trailer.
        func forged(blockSize: UInt32, fileLength: UInt64) -> [UInt8] {
            var out = FileSignature.magic + [FileSignature.formatVersion]
            withUnsafeBytes(of: blockSize.littleEndian) { out.append(contentsOf: $0) }
            withUnsafeBytes(of: fileLength.littleEndian) { out.append(contentsOf: $0) }
            out.append(contentsOf: [UInt8](repeating: 0, count: 16))
            let checksum = out.withUnsafeBytes { StrongHash.checksum64($0) }
            withUnsafeBytes(of: checksum.littleEndian) { out.append(contentsOf: $0) }
            return out
        }
        #expect(throws: DeltaError.self) { try FileSignature(deserializing: forged(blockSize: 0, fileLength: 0)) }
        #expect(throws: DeltaError.self) {
            try FileSignature(deserializing: forged(blockSize: UInt32.max, fileLength: 0))
        }
        #expect(throws: DeltaError.self) {
            try FileSignature(deserializing: forged(blockSize: 1, fileLength: UInt64.max))
        }
        // A forged empty signature is accepted and means an empty file.
        let empty = try? FileSignature(deserializing: forged(blockSize: 700, fileLength: 0))
        #expect(empty?.blockCount == 0)
    }

    @Test("random garbage never crashes the parser")
    func garbage() {
        var rng = SeededGenerator(seed: 4)
        let valid = Self.sample(length: 4_000, blockSize: 700, seed: 5).serialized()
        for round in 0..<2_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = rng.bytes(Int.random(in: 0...200, using: &rng))
                if bytes.count >= 5 && round % 4 == 0 { bytes.replaceSubrange(0..<5, with: valid[0..<5]) }
            } else {
                bytes = valid
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
                if bytes == valid { continue }
            }
            #expect(throws: DeltaError.self) { try FileSignature(deserializing: bytes) }
        }
    }

    @Test("the validating initializer rejects inconsistent parts")
    func validatingInit() {
        let block = BlockSignature(weak: 1, strong: Hash128(low: 2, high: 3))
        let hash = Hash128(low: 0, high: 0)
        #expect(throws: DeltaError.self) {
            try FileSignature(blockSize: 0, fileLength: 0, blocks: [], fileHash: hash)
        }
        #expect(throws: DeltaError.self) {
            try FileSignature(blockSize: 10, fileLength: 25, blocks: [block, block], fileHash: hash)
        }
        #expect(throws: Never.self) {
            try FileSignature(blockSize: 10, fileLength: 25, blocks: [block, block, block], fileHash: hash)
        }
    }
}
