import Testing
@testable import MuxSFTPWire

@Suite("Extension replies")
struct ExtensionReplyTests {
    // MARK: limits@openssh.com

    @Test("limits decode OpenSSH 9.2's answer")
    func limits() throws {
        let payload = wire { $0.u64(262_144).u64(261_120).u64(261_120).u64(1019) }
        let limits = try SFTPLimits.decode(payload)
        #expect(limits == SFTPLimits(maxPacketLength: 262_144, maxReadLength: 261_120,
                                     maxWriteLength: 261_120, maxOpenHandles: 1019))
        #expect(limits.encoded == payload)
        #expect(limits.readChunkLength == 261_120)
        #expect(limits.writeChunkLength(handleLength: 4) == 261_120)
        #expect(limits.replyPacketLimit == 261_129)
    }

    @Test("limits reject a short payload and ignore trailing bytes")
    func limitsErrors() throws {
        #expect(throws: SFTPWireError.self) { try SFTPLimits.decode(wire { $0.u64(1).u64(2).u64(3) }) }
        #expect(throws: SFTPWireError.self) { try SFTPLimits.decode([]) }
        #expect(try SFTPLimits.decode(wire { $0.u64(1).u64(2).u64(3).u64(4).u32(9) }).maxOpenHandles == 4)
    }

    @Test("chunk lengths respect the packet limit and fall back on zeros")
    func chunkLengths() {
        let fallback = SFTPLimits.fallback
        #expect(fallback.maxPacketLength == 34000 && fallback.maxReadLength == 32768 && fallback.maxWriteLength == 32768)
        #expect(fallback.readChunkLength == 32768)
        #expect(fallback.writeChunkLength(handleLength: 256) == 32768)

        // A server whose packet limit is tighter than its write limit: the packet wins.
        let tight = SFTPLimits(maxPacketLength: 10_000, maxReadLength: 1 << 20, maxWriteLength: 1 << 20, maxOpenHandles: 0)
        let chunk = tight.writeChunkLength(handleLength: 4)
        #expect(chunk + SFTPCodec.writeOverhead(handleLength: 4) - 4 == 10_000)
        #expect(Int(tight.readChunkLength) + SFTPCodec.dataReplyOverhead - 4 == 10_000)

        let zeros = SFTPLimits(maxPacketLength: 0, maxReadLength: 0, maxWriteLength: 0, maxOpenHandles: 0)
        #expect(zeros.readChunkLength == 32768)
        #expect(zeros.writeChunkLength(handleLength: 4) == 32768)

        let absurd = SFTPLimits(maxPacketLength: 3, maxReadLength: .max, maxWriteLength: .max, maxOpenHandles: .max)
        #expect(absurd.readChunkLength >= 1)
        #expect(absurd.writeChunkLength(handleLength: 4) >= 1)
    }

    // MARK: statvfs@openssh.com

    @Test("statvfs decodes eleven fields in struct statvfs order")
    func statvfs() throws {
        let payload = wire {
            $0.u64(4096).u64(1024).u64(1000).u64(600).u64(500).u64(70).u64(60).u64(50).u64(0xABCD).u64(1).u64(255)
        }
        let vfs = try SFTPStatVFS.decode(payload)
        #expect(vfs.blockSize == 4096)
        #expect(vfs.fragmentSize == 1024)
        #expect(vfs.blocks == 1000)
        #expect(vfs.freeBlocks == 600)
        #expect(vfs.availableBlocks == 500)
        #expect(vfs.files == 70)
        #expect(vfs.freeFiles == 60)
        #expect(vfs.availableFiles == 50)
        #expect(vfs.fileSystemID == 0xABCD)
        #expect(vfs.flags == 1)
        #expect(vfs.maxNameLength == 255)
        #expect(vfs.availableBytes == 500 * 1024)
        #expect(vfs.totalBytes == 1000 * 1024)
        #expect(vfs.isReadOnly)
        #expect(!vfs.isNoSUID)
        #expect(vfs.encoded == payload)
    }

    @Test("statvfs: zero fragment size uses the block size; products saturate")
    func statvfsEdges() throws {
        var vfs = SFTPStatVFS(blockSize: 512, fragmentSize: 0, blocks: 10, freeBlocks: 5, availableBlocks: 4,
                              files: 0, freeFiles: 0, availableFiles: 0, fileSystemID: 0, flags: 2, maxNameLength: 255)
        #expect(vfs.availableBytes == 2048)
        #expect(vfs.isNoSUID)
        vfs.fragmentSize = .max
        #expect(vfs.availableBytes == .max)
        #expect(throws: SFTPWireError.self) { try SFTPStatVFS.decode([UInt8](repeating: 0, count: 87)) }
    }

    @Test("extension replies arrive through the reader as EXTENDED_REPLY")
    func throughReader() throws {
        let limits = SFTPLimits(maxPacketLength: 1, maxReadLength: 2, maxWriteLength: 3, maxOpenHandles: 4)
        var reader = SFTPPacketReader()
        reader.append(SFTPCodec.encodeReply(.extendedReply(id: 12, limits.encoded)))
        let reply = try #require(try reader.next())
        guard case let .extendedReply(id, payload) = reply else {
            Issue.record("expected EXTENDED_REPLY, got \(reply)")
            return
        }
        #expect(id == 12)
        #expect(try SFTPLimits.decode(payload) == limits)
    }
}
