import MuxTestSupport
import Testing
@testable import MuxSFTPWire

/// Garbage in: the decoders must throw or return, never trap, loop or over-allocate.
@Suite("Fuzzing")
struct FuzzTests {
    @Test("thousands of random byte strings through the reader")
    func randomStreams() {
        var random = SeededGenerator(seed: 0xF00D)
        var outcomes = (replies: 0, errors: 0)
        for _ in 0 ..< 4000 {
            let limit = Int.random(in: 1 ... 4096, using: &random)
            let garbage = random.bytes(Int.random(in: 0 ... 600, using: &random))
            let result = feed(garbage, maxPacketLength: limit) { remaining in
                Int.random(in: 1 ... max(1, min(remaining, 64)), using: &random)
            }
            outcomes.replies += result.replies.count
            outcomes.errors += result.errors.count
            for reply in result.replies {
                if case let .data(_, bytes) = reply { #expect(bytes.count <= limit) }
            }
        }
        // Random bytes nearly always announce an absurd length: errors must have been reported.
        #expect(outcomes.errors > 3000)
    }

    @Test("random packets with plausible framing and type bytes")
    func plausiblePackets() {
        var random = SeededGenerator(seed: 0xBEEF)
        let types: [UInt8] = [2, 101, 102, 103, 104, 105, 201, 0, 255]
        var errors = 0
        for _ in 0 ..< 5000 {
            var packet = [types[Int.random(in: 0 ..< types.count, using: &random)]]
            packet += random.bytes(Int.random(in: 0 ... 80, using: &random))
            do {
                _ = try SFTPReply.decode(packet: packet)
            } catch {
                errors += 1
            }
            _ = try? SFTPClientMessage.decode(packet: packet)
            _ = try? SFTPAttributes.decode(Array(packet.dropFirst()))
        }
        #expect(errors > 0)
    }

    @Test("random mutations of valid packets never crash and are bounded")
    func mutations() throws {
        var random = SeededGenerator(seed: 0xC0FFEE)
        let valid = sampleReplies.map { SFTPCodec.encodeReply($0) }
            + [SFTPCodec.encode(.open(path: "/x", flags: .replace, attributes: SFTPAttributes(size: 1)), id: 1)]
        var decoded = 0
        var failed = 0
        for round in 0 ..< 6000 {
            var packet = valid[round % valid.count]
            let edits = Int.random(in: 1 ... 4, using: &random)
            for _ in 0 ..< edits {
                switch Int.random(in: 0 ..< 5, using: &random) {
                case 0 where !packet.isEmpty:  // flip a byte
                    let index = Int.random(in: 0 ..< packet.count, using: &random)
                    packet[index] ^= UInt8.random(in: 1 ... 255, using: &random)
                case 1 where !packet.isEmpty:  // truncate
                    packet.removeLast(Int.random(in: 1 ... packet.count, using: &random))
                case 2:  // insert bytes
                    let index = Int.random(in: 0 ... packet.count, using: &random)
                    packet.insert(contentsOf: random.bytes(Int.random(in: 1 ... 8, using: &random)), at: index)
                case 3 where packet.count > 8:  // rewrite a length-ish field with an extreme value
                    let index = Int.random(in: 0 ... packet.count - 4, using: &random)
                    let extreme: [UInt8] = [[0xFF, 0xFF, 0xFF, 0xFF], [0x7F, 0xFF, 0xFF, 0xFF], [0, 0, 0, 0]][
                        Int.random(in: 0 ..< 3, using: &random)]
                    packet.replaceSubrange(index ..< index + 4, with: extreme)
                default:  // fix the frame length to the new size so the body is parsed
                    if packet.count >= 4 {
                        let length = UInt32(packet.count - 4)
                        packet.replaceSubrange(0 ..< 4, with: wire { $0.u32(length) })
                    }
                }
            }
            var reader = SFTPPacketReader(maxPacketLength: 4096)
            var result = Drained()
            reader.append(packet)
            drain(&reader, into: &result, limit: 100)
            decoded += result.replies.count
            failed += result.errors.count
            // Whatever was not consumed is at most one incomplete packet (or a sticky error's data).
            #expect(reader.bufferedByteCount <= packet.count)
            if packet.count > 4 {
                _ = try? SFTPClientMessage.decode(packet: Array(packet.dropFirst(4)))
            }
        }
        #expect(decoded > 0)
        #expect(failed > 0)
    }

    @Test("NAME and extended-attribute counts are validated against the bytes present")
    func counts() {
        var random = SeededGenerator(seed: 7)
        for _ in 0 ..< 500 {
            let count = UInt32.random(in: 2 ... UInt32.max, using: &random)
            let name = [104] + wire { $0.u32(1).u32(count).string("a").string("b").u32(0) }
            #expect(throws: SFTPWireError.self) { try SFTPReply.decode(packet: name) }
            let attrs = [105] + wire { $0.u32(1).u32(0x8000_0000).u32(count).string("a").string("b") }
            #expect(throws: SFTPWireError.self) { try SFTPReply.decode(packet: attrs) }
        }
    }
}
