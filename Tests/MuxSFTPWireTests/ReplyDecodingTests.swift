import Testing
@testable import MuxSFTPWire

/// Decodes one hand-framed packet through the reader, requiring exactly one reply.
private func decodeOne(_ packet: [UInt8]) throws -> SFTPReply {
    var reader = SFTPPacketReader()
    reader.append(packet)
    let reply = try #require(try reader.next())
    #expect(try reader.next() == nil)
    #expect(reader.bufferedByteCount == 0)
    return reply
}

@Suite("Reply decoding")
struct ReplyDecodingTests {
    // MARK: One test per reply type

    @Test("VERSION with the extensions OpenSSH 9.2 announces")
    func version() throws {
        let names = ["posix-rename@openssh.com", "statvfs@openssh.com", "fstatvfs@openssh.com",
                     "hardlink@openssh.com", "fsync@openssh.com", "lsetstat@openssh.com", "limits@openssh.com",
                     "expand-path@openssh.com", "copy-data", "home-directory", "users-groups-by-id@openssh.com"]
        let body = wire { builder in
            builder.u32(3)
            for name in names { builder.string(name).string(name.hasPrefix("statvfs") ? "2" : "1") }
        }
        let reply = try decodeOne(frame(type: 2, id: nil, body: body))
        guard case let .version(version, extensions) = reply else {
            Issue.record("expected VERSION, got \(reply)")
            return
        }
        #expect(version == 3)
        #expect(extensions.map(\.name) == names)
        #expect(extensions.containsExtension("copy-data"))
        #expect(!extensions.containsExtension("check-file"))
        #expect(extensions.extensionVersion("statvfs@openssh.com") == "2")
        #expect(reply.requestID == nil)
    }

    @Test("VERSION without extensions")
    func bareVersion() throws {
        #expect(try decodeOne([0, 0, 0, 5, 2, 0, 0, 0, 3]) == .version(3, extensions: []))
    }

    @Test("STATUS with message and language")
    func status() throws {
        let reply = try decodeOne(frame(type: 101, id: 9, body: wire { $0.u32(2).string("No such file").string("en") }))
        #expect(reply == .status(id: 9, SFTPStatus(code: .noSuchFile, message: "No such file", language: "en")))
        #expect(reply.requestID == 9)
    }

    @Test("STATUS from a server that omits message and language")
    func terseStatus() throws {
        #expect(try decodeOne(frame(type: 101, id: 1, body: wire { $0.u32(0) })) == .status(id: 1, SFTPStatus(code: .ok)))
        #expect(try decodeOne(frame(type: 101, id: 1, body: wire { $0.u32(1).string("x") }))
            == .status(id: 1, SFTPStatus(code: .eof, message: "x")))
    }

    @Test("HANDLE")
    func handle() throws {
        #expect(try decodeOne(frame(type: 102, id: 3, body: wire { $0.string([0, 0, 0, 2]) })) == .handle(id: 3, [0, 0, 0, 2]))
    }

    @Test("DATA, including empty")
    func data() throws {
        #expect(try decodeOne(frame(type: 103, id: 4, body: wire { $0.string([1, 2, 3]) })) == .data(id: 4, [1, 2, 3]))
        #expect(try decodeOne(frame(type: 103, id: 5, body: wire { $0.string([]) })) == .data(id: 5, []))
    }

    @Test("NAME with attributes and a file name that is not valid UTF-8")
    func name() throws {
        let badName: [UInt8] = [0x61, 0xFF, 0xFE]
        let body = wire {
            $0.u32(2)
            $0.string("dir").string("drwxr-xr-x  2 u g 4096 dir").u32(0x0C).u32(0o40755).u32(10).u32(20)
            $0.string(badName).string("-rw-------").u32(0x01).u64(77)
        }
        let reply = try decodeOne(frame(type: 104, id: 6, body: body))
        guard case let .name(id, entries) = reply else {
            Issue.record("expected NAME, got \(reply)")
            return
        }
        #expect(id == 6)
        #expect(entries.count == 2)
        #expect(entries[0].filename == "dir")
        #expect(entries[0].filenameIsValidUTF8)
        #expect(entries[0].attributes.isDirectory)
        #expect(entries[0].attributes.mtime == 20)
        #expect(entries[1].filenameBytes == badName)
        #expect(!entries[1].filenameIsValidUTF8)
        #expect(entries[1].filename == "a\u{FFFD}\u{FFFD}")
        #expect(entries[1].attributes == SFTPAttributes(size: 77))
    }

    @Test("ATTRS")
    func attrs() throws {
        let body = wire { $0.u32(0x0F).u64(5).u32(1).u32(2).u32(0o100600).u32(3).u32(4) }
        let expected = SFTPAttributes(size: 5, uid: 1, gid: 2, permissions: 0o100600, atime: 3, mtime: 4)
        #expect(try decodeOne(frame(type: 105, id: 7, body: body)) == .attrs(id: 7, expected))
    }

    @Test("EXTENDED_REPLY keeps the payload verbatim")
    func extendedReply() throws {
        #expect(try decodeOne(frame(type: 201, id: 8, body: [9, 9, 9])) == .extendedReply(id: 8, [9, 9, 9]))
        #expect(try decodeOne(frame(type: 201, id: 8, body: [])) == .extendedReply(id: 8, []))
    }

    // MARK: Errors and leniency

    @Test("unknown type, truncated fields and impossible counts are errors")
    func errors() {
        #expect(throws: SFTPWireError.unknownType(3)) { try SFTPReply.decode(packet: [3, 0, 0, 0, 1]) }
        #expect(throws: SFTPWireError.self) { try SFTPReply.decode(packet: [103, 0, 0, 0, 1, 0, 0, 0, 9, 1]) }
        #expect(throws: SFTPWireError.self) { try SFTPReply.decode(packet: [101, 0, 0]) }
        #expect(throws: SFTPWireError.self) { try SFTPReply.decode(packet: []) }
        // NAME announcing 2^32-1 entries in a 9-byte body must fail before reserving anything.
        let hugeCount = [104] + wire { $0.u32(1).u32(0xFFFF_FFFF) }
        #expect {
            try SFTPReply.decode(packet: hugeCount)
        } throws: { error in
            guard case .malformed(let text)? = error as? SFTPWireError else { return false }
            return text.contains("4294967295")
        }
    }

    @Test("bytes after the last field are ignored")
    func trailingBytes() throws {
        #expect(try SFTPReply.decode(packet: [102] + wire { $0.u32(1).string([7]).raw([0, 0]) }) == .handle(id: 1, [7]))
    }

    @Test("every sample reply survives encodeReply -> decode")
    func roundTrip() throws {
        for reply in sampleReplies {
            let encoded = SFTPCodec.encodeReply(reply)
            #expect(try SFTPReply.decode(packet: Array(encoded.dropFirst(4))) == reply)
        }
    }

    // MARK: Status codes

    @Test("status codes carry their protocol numbers and descriptions")
    func statusCodes() {
        let codes: [SFTPStatusCode] = [.ok, .eof, .noSuchFile, .permissionDenied, .failure, .badMessage,
                                       .noConnection, .connectionLost, .opUnsupported]
        #expect(codes.map(\.rawValue) == Array(0 ... 8))
        #expect(SFTPStatusCode.noSuchFile.symbol == "SSH_FX_NO_SUCH_FILE")
        #expect(SFTPStatusCode.opUnsupported.description.contains("not supported"))
        #expect(SFTPStatusCode(rawValue: 99).description == "unknown status 99")
        #expect(SFTPStatusCode(rawValue: 99).symbol == "SSH_FX_99")
        let status = SFTPStatus(code: .permissionDenied, message: "Permission denied")
        #expect(status.description == "Permission denied (SSH_FX_PERMISSION_DENIED)")
        #expect(SFTPStatus(code: .eof).isEOF)
        #expect(SFTPStatus(code: .ok).isOK)
    }

    @Test("errors describe their cause")
    func errorText() {
        let text = SFTPWireError.packetTooLarge(5_000_000, limit: 1_048_576).description
        #expect(text.contains("5000000") && text.contains("1048576") && text.contains("maxPacketLength"))
        #expect(SFTPWireError.unknownType(77).description.contains("77"))
    }
}
