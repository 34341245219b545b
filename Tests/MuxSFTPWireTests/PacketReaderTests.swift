import MuxTestSupport
import Testing
@testable import MuxSFTPWire

@Suite("Packet reader")
struct PacketReaderTests {
    // MARK: Splitting

    @Test("whole stream at once yields every sample reply")
    func wholeStream() {
        let result = feed(sampleStream()) { $0 }
        #expect(result.errors.isEmpty)
        #expect(result.replies == sampleReplies)
    }

    @Test("byte-by-byte feeding yields the same replies")
    func byteByByte() {
        let result = feed(sampleStream()) { _ in 1 }
        #expect(result.errors.isEmpty)
        #expect(result.replies == sampleReplies)
    }

    @Test("random splits yield the same replies", arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func randomSplits(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let stream = sampleStream() + sampleStream() + sampleStream()
        let result = feed(stream) { remaining in Int.random(in: 1 ... min(remaining, 97), using: &random) }
        #expect(result.errors.isEmpty)
        #expect(result.replies == sampleReplies + sampleReplies + sampleReplies)
    }

    @Test("the UnsafeRawBufferPointer overload behaves like the array one")
    func rawPointerAppend() throws {
        let stream = sampleStream()
        var reader = SFTPPacketReader()
        var replies: [SFTPReply] = []
        var position = 0
        while position < stream.count {
            let end = min(stream.count, position + 13)
            stream[position ..< end].withUnsafeBytes { reader.append($0) }
            position = end
            while let reply = try reader.next() { replies.append(reply) }
        }
        #expect(replies == sampleReplies)
    }

    @Test("bufferedByteCount tracks partial packets and drops to zero when drained")
    func bufferedCount() throws {
        let packet = SFTPCodec.encodeReply(.handle(id: 1, [1, 2, 3, 4]))
        var reader = SFTPPacketReader()
        reader.append(Array(packet.prefix(3)))
        #expect(try reader.next() == nil)
        #expect(reader.bufferedByteCount == 3)
        reader.append(Array(packet.dropFirst(3)))
        #expect(reader.bufferedByteCount == packet.count)
        #expect(try reader.next() == .handle(id: 1, [1, 2, 3, 4]))
        #expect(reader.bufferedByteCount == 0)
        #expect(try reader.next() == nil)
    }

    // MARK: Many packets

    @Test("one buffer holding thousands of packets decodes completely")
    func thousandsInOneBuffer() throws {
        var stream: [UInt8] = []
        let count = 20_000
        for index in 0 ..< count {
            SFTPCodec.encodeReply(.status(id: UInt32(index), SFTPStatus(code: .ok, message: "Success")), into: &stream)
        }
        var reader = SFTPPacketReader()
        reader.append(stream)
        var seen = 0
        while let reply = try reader.next() {
            #expect(reply.requestID == UInt32(seen))
            seen += 1
        }
        #expect(seen == count)
        #expect(reader.bufferedByteCount == 0)
    }

    @Test("interleaving small appends with a growing backlog stays correct across compactions")
    func compaction() throws {
        // Packets of varied sizes, fed in chunks that rarely align with packet boundaries, and
        // read only every few appends so the buffer holds a consumed prefix and a live tail.
        var random = SeededGenerator(seed: 99)
        var expected: [SFTPReply] = []
        var stream: [UInt8] = []
        for index in 0 ..< 3000 {
            let reply = SFTPReply.data(id: UInt32(index), random.bytes(Int.random(in: 0 ... 300, using: &random)))
            expected.append(reply)
            SFTPCodec.encodeReply(reply, into: &stream)
        }
        var reader = SFTPPacketReader()
        var replies: [SFTPReply] = []
        var position = 0
        var appends = 0
        while position < stream.count {
            let end = min(stream.count, position + Int.random(in: 1 ... 700, using: &random))
            reader.append(stream[position ..< end])
            position = end
            appends += 1
            if appends % 5 == 0 || position == stream.count {
                while let reply = try reader.next() { replies.append(reply) }
            }
        }
        #expect(replies == expected)
        #expect(reader.bufferedByteCount == 0)
    }

    // MARK: Limits and errors

    @Test("a length above the limit fails as soon as the header arrives, and stays failed")
    func packetTooLarge() throws {
        var reader = SFTPPacketReader(maxPacketLength: 1000)
        reader.append([0, 0, 0x03, 0xE9])  // 1001, no body yet
        #expect(throws: SFTPWireError.packetTooLarge(1001, limit: 1000)) { try reader.next() }
        reader.append(SFTPCodec.encodeReply(.status(id: 1, SFTPStatus(code: .ok))))
        #expect(throws: SFTPWireError.packetTooLarge(1001, limit: 1000)) { try reader.next() }
    }

    @Test("a packet exactly at the limit is accepted")
    func packetAtLimit() throws {
        let payload = [UInt8](repeating: 7, count: 1000 - 9)
        var reader = SFTPPacketReader(maxPacketLength: 1000)
        reader.append(SFTPCodec.encodeReply(.data(id: 1, payload)))
        #expect(try reader.next() == .data(id: 1, payload))
    }

    @Test("a 4 GiB length announcement does not allocate or wait for the body")
    func hugeAnnouncement() {
        var reader = SFTPPacketReader()
        reader.append([0xFF, 0xFF, 0xFF, 0xFF, 103])
        #expect(throws: SFTPWireError.packetTooLarge(Int(UInt32.max), limit: 1 << 20)) { try reader.next() }
        #expect(reader.bufferedByteCount == 5)
    }

    @Test("limits outside what a length field can express are clamped")
    func clampedLimit() throws {
        #expect(SFTPPacketReader(maxPacketLength: 0).maxPacketLength == 1)
        #expect(SFTPPacketReader(maxPacketLength: .max).maxPacketLength == Int(UInt32.max))
        var reader = SFTPPacketReader(maxPacketLength: .max)
        reader.append(SFTPCodec.encodeReply(.handle(id: 1, [1])))
        #expect(try reader.next() == .handle(id: 1, [1]))
    }

    @Test("a zero length is a sticky framing error")
    func zeroLength() {
        var reader = SFTPPacketReader()
        reader.append([0, 0, 0, 0, 0, 0, 0, 1, 2])
        #expect(throws: SFTPWireError.self) { try reader.next() }
        #expect(throws: SFTPWireError.self) { try reader.next() }
    }

    @Test("an undecodable packet is skipped and the next one still decodes")
    func skipsBadPacket() throws {
        var stream = frame(type: 77, id: 1, body: [])  // unknown type
        stream += frame(type: 103, id: 2, body: wire { $0.u32(50) })  // DATA claims 50 bytes, has 0
        SFTPCodec.encodeReply(.handle(id: 3, [1]), into: &stream)
        var reader = SFTPPacketReader()
        reader.append(stream)
        #expect(throws: SFTPWireError.unknownType(77)) { try reader.next() }
        #expect(throws: SFTPWireError.self) { try reader.next() }
        #expect(try reader.next() == .handle(id: 3, [1]))
        #expect(try reader.next() == nil)
    }

    @Test("the framer hands out raw packets for other decoders")
    func framerPackets() throws {
        var framer = SFTPPacketFramer(maxPacketLength: 64)
        framer.append(SFTPCodec.encodeInit())
        framer.append(SFTPCodec.encode(.limits, id: 1))
        #expect(try framer.nextPacket() == [1, 0, 0, 0, 3])
        let limits = try #require(try framer.nextPacket())
        #expect(try SFTPClientMessage.decode(packet: limits) == .request(id: 1, .limits))
        #expect(try framer.nextPacket() == nil)
        #expect(framer.framingError == nil)
    }
}
