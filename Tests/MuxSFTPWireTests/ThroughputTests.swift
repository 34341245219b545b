#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
@testable import MuxSFTPWire

/// memcmp-based equality: element-wise `==` on 100 MiB is slow in debug builds.
private func sameBytes(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> Bool {
    a.count == b.count && a.withUnsafeBytes { x in
        b.withUnsafeBytes { y in
            guard let left = x.baseAddress, let right = y.baseAddress else { return x.count == 0 }
            return memcmp(left, right, x.count) == 0
        }
    }
}

/// Bulk-transfer correctness at realistic scale. No timing assertions: these only prove that
/// 100 MB move through the codec intact and that nothing is quadratic enough to time out.
@Suite("Bulk transfer")
struct ThroughputTests {
    static let chunk = 256 * 1024
    static let packetCount = 400  // 400 x 256 KiB = 100 MiB

    @Test("100 MiB of DATA replies, delivered in 32 KiB channel reads, decode intact")
    func downloadStream() throws {
        var template = [UInt8](repeating: 0, count: Self.chunk)
        for index in template.indices { template[index] = UInt8(truncatingIfNeeded: index &* 31 &+ 7) }
        var reader = SFTPPacketReader(maxPacketLength: Self.chunk + 1024)
        var received = 0
        var nextID: UInt32 = 0
        for packetIndex in 0 ..< Self.packetCount {
            // Stamp the packet number so a misordered or duplicated packet would show.
            var payload = template
            payload[0] = UInt8(truncatingIfNeeded: packetIndex)
            payload[1] = UInt8(truncatingIfNeeded: packetIndex >> 8)
            let packet = SFTPCodec.encodeReply(.data(id: UInt32(packetIndex), payload))
            var position = 0
            while position < packet.count {
                let end = min(packet.count, position + 32 * 1024)
                packet[position ..< end].withUnsafeBytes { reader.append($0) }
                position = end
                while let reply = try reader.next() {
                    guard case let .data(id, data) = reply else {
                        Issue.record("unexpected \(reply)")
                        return
                    }
                    #expect(id == nextID)
                    #expect(data.count == Self.chunk)
                    #expect(data[0] == UInt8(truncatingIfNeeded: id) && data[1] == UInt8(truncatingIfNeeded: id >> 8))
                    #expect(sameBytes(data[2...], template[2...]))
                    received += data.count
                    nextID += 1
                }
            }
        }
        #expect(received == Self.chunk * Self.packetCount)
        #expect(reader.bufferedByteCount == 0)
    }

    @Test("100 MiB of WRITE requests encode with the right framing into a reused buffer")
    func uploadStream() throws {
        let handle: [UInt8] = [0, 0, 0, 3]
        let data = [UInt8](repeating: 0x5A, count: Self.chunk)
        var buffer: [UInt8] = []
        var total = 0
        for index in 0 ..< Self.packetCount {
            buffer.removeAll(keepingCapacity: true)
            data.withUnsafeBytes {
                SFTPCodec.encodeWrite(id: UInt32(index), handle: handle, offset: UInt64(index * Self.chunk),
                                      data: $0, into: &buffer)
            }
            #expect(buffer.count == Self.chunk + SFTPCodec.writeOverhead(handleLength: handle.count))
            total += buffer.count
        }
        // Decode the last one fully to check its fields.
        let message = try SFTPClientMessage.decode(packet: Array(buffer.dropFirst(4)))
        let lastOffset = UInt64((Self.packetCount - 1) * Self.chunk)
        #expect(message == .request(id: UInt32(Self.packetCount - 1),
                                    .write(handle: handle, offset: lastOffset, data: data)))
        #expect(total == Self.packetCount * (Self.chunk + 29))
    }

    @Test("many DATA packets appended as one huge buffer decode linearly and completely")
    func oneHugeBuffer() throws {
        var stream: [UInt8] = []
        let payload = [UInt8](repeating: 1, count: 4096)
        for index in 0 ..< 8000 { SFTPCodec.encodeReply(.data(id: UInt32(index), payload), into: &stream) }
        var reader = SFTPPacketReader()
        reader.append(stream)
        var count = 0
        while let reply = try reader.next() {
            if case let .data(id, data) = reply, id == UInt32(count), data.count == 4096 { count += 1 }
        }
        #expect(count == 8000)
    }
}
