import Testing
@testable import MuxSFTPWire

// MARK: - Expected layouts

/// One request with the type byte and body (after the id) the draft / OpenSSH prescribe.
struct RequestCase: CustomTestStringConvertible, Sendable {
    let label: String
    let request: SFTPRequest
    let type: UInt8
    let body: [UInt8]
    var testDescription: String { label }
}

private let handleA: [UInt8] = [0, 0, 0, 1]
private let handleB: [UInt8] = [0xAB, 0xCD]
private let someAttributes = SFTPAttributes(size: 10, permissions: 0o644)
private let someAttributesBytes: [UInt8] = wire { $0.u32(0x05).u64(10).u32(0o644) }

private func ext(_ name: String, _ rest: (WireBytes) -> Void = { _ in }) -> [UInt8] {
    wire { $0.string(name); rest($0) }
}

let requestCases: [RequestCase] = [
    RequestCase(label: "open", request: .open(path: "/a/b", flags: [.write, .create, .truncate], attributes: someAttributes),
                type: 3, body: wire { $0.string("/a/b").u32(0x1A).raw(someAttributesBytes) }),
    RequestCase(label: "open without attributes", request: .open(path: "x", flags: .read, attributes: .empty),
                type: 3, body: wire { $0.string("x").u32(1).u32(0) }),
    RequestCase(label: "close", request: .close(handle: handleA), type: 4, body: wire { $0.string(handleA) }),
    RequestCase(label: "read", request: .read(handle: handleA, offset: 0x1_0000_0002, length: 261_120),
                type: 5, body: wire { $0.string(handleA).u64(0x1_0000_0002).u32(261_120) }),
    RequestCase(label: "write", request: .write(handle: handleB, offset: 7, data: [9, 8, 7]),
                type: 6, body: wire { $0.string(handleB).u64(7).string([9, 8, 7]) }),
    RequestCase(label: "lstat", request: .lstat(path: "l"), type: 7, body: wire { $0.string("l") }),
    RequestCase(label: "fstat", request: .fstat(handle: handleA), type: 8, body: wire { $0.string(handleA) }),
    RequestCase(label: "setstat", request: .setstat(path: "s", attributes: someAttributes),
                type: 9, body: wire { $0.string("s").raw(someAttributesBytes) }),
    RequestCase(label: "fsetstat", request: .fsetstat(handle: handleB, attributes: someAttributes),
                type: 10, body: wire { $0.string(handleB).raw(someAttributesBytes) }),
    RequestCase(label: "opendir", request: .opendir(path: "/d"), type: 11, body: wire { $0.string("/d") }),
    RequestCase(label: "readdir", request: .readdir(handle: handleA), type: 12, body: wire { $0.string(handleA) }),
    RequestCase(label: "remove", request: .remove(path: "gone"), type: 13, body: wire { $0.string("gone") }),
    RequestCase(label: "mkdir", request: .mkdir(path: "nd", attributes: SFTPAttributes(permissions: 0o755)),
                type: 14, body: wire { $0.string("nd").u32(4).u32(0o755) }),
    RequestCase(label: "rmdir", request: .rmdir(path: "od"), type: 15, body: wire { $0.string("od") }),
    RequestCase(label: "realpath", request: .realpath(path: "."), type: 16, body: wire { $0.string(".") }),
    RequestCase(label: "stat", request: .stat(path: "é/ü"), type: 17, body: wire { $0.string("é/ü") }),
    RequestCase(label: "rename", request: .rename(oldPath: "old", newPath: "new"),
                type: 18, body: wire { $0.string("old").string("new") }),
    RequestCase(label: "readlink", request: .readlink(path: "ln"), type: 19, body: wire { $0.string("ln") }),
    // OpenSSH: target first, then the link path.
    RequestCase(label: "symlink", request: .symlink(linkPath: "the-link", targetPath: "the-target"),
                type: 20, body: wire { $0.string("the-target").string("the-link") }),
    RequestCase(label: "posix-rename", request: .posixRename(oldPath: "t.tmp", newPath: "t"),
                type: 200, body: ext("posix-rename@openssh.com") { $0.string("t.tmp").string("t") }),
    RequestCase(label: "fsync", request: .fsync(handle: handleA),
                type: 200, body: ext("fsync@openssh.com") { $0.string(handleA) }),
    RequestCase(label: "hardlink", request: .hardlink(oldPath: "a", newPath: "b"),
                type: 200, body: ext("hardlink@openssh.com") { $0.string("a").string("b") }),
    RequestCase(label: "statvfs", request: .statvfs(path: "/"),
                type: 200, body: ext("statvfs@openssh.com") { $0.string("/") }),
    RequestCase(label: "fstatvfs", request: .fstatvfs(handle: handleB),
                type: 200, body: ext("fstatvfs@openssh.com") { $0.string(handleB) }),
    RequestCase(label: "limits", request: .limits, type: 200, body: ext("limits@openssh.com")),
    RequestCase(label: "copy-data",
                request: .copyData(readHandle: handleA, readOffset: 1, length: 0, writeHandle: handleB, writeOffset: 2),
                type: 200, body: ext("copy-data") { $0.string(handleA).u64(1).u64(0).string(handleB).u64(2) }),
    RequestCase(label: "expand-path", request: .expandPath(path: "~/x"),
                type: 200, body: ext("expand-path@openssh.com") { $0.string("~/x") }),
    RequestCase(label: "lsetstat", request: .lsetstat(path: "ls", attributes: someAttributes),
                type: 200, body: ext("lsetstat@openssh.com") { $0.string("ls").raw(someAttributesBytes) }),
    RequestCase(label: "extended", request: .extended(name: "home-directory", payload: wire { $0.string("bob") }),
                type: 200, body: ext("home-directory") { $0.string("bob") }),
    RequestCase(label: "raw", request: .raw(type: 13, body: wire { $0.string([0x66, 0xFF]) }),
                type: 13, body: wire { $0.string([0x66, 0xFF]) }),
]

// MARK: - Tests

@Suite("Request encoding")
struct RequestEncodingTests {
    @Test("every request encodes to the exact expected bytes", arguments: requestCases)
    func exactBytes(_ testCase: RequestCase) {
        let id: UInt32 = 0x0102_0304
        let encoded = SFTPCodec.encode(testCase.request, id: id)
        #expect(encoded == frame(type: testCase.type, id: id, body: testCase.body))
        #expect(SFTPCodec.encodedLength(testCase.request) == encoded.count)
        #expect(testCase.request.packetTypeByte == testCase.type)
    }

    @Test("framing of one packet spelled out byte by byte")
    func literalFraming() {
        let encoded = SFTPCodec.encode(.close(handle: [0xAA, 0xBB]), id: 7)
        #expect(encoded == [0, 0, 0, 11, 4, 0, 0, 0, 7, 0, 0, 0, 2, 0xAA, 0xBB])
        #expect(SFTPCodec.encodeInit() == [0, 0, 0, 5, 1, 0, 0, 0, 3])
        #expect(SFTPCodec.encodeInit(version: 6) == [0, 0, 0, 5, 1, 0, 0, 0, 6])
    }

    @Test("encode appends after existing bytes and batches packets")
    func appends() {
        var buffer: [UInt8] = [0xEE]
        SFTPCodec.encode(.stat(path: "a"), id: 1, into: &buffer)
        SFTPCodec.encode(.stat(path: "b"), id: 2, into: &buffer)
        let expected = [0xEE] + frame(type: 17, id: 1, body: wire { $0.string("a") })
            + frame(type: 17, id: 2, body: wire { $0.string("b") })
        #expect(buffer == expected)
    }

    @Test("symlink puts the target before the link path (OpenSSH order)")
    func symlinkOrder() throws {
        let encoded = SFTPCodec.encode(.symlink(linkPath: "L", targetPath: "T"), id: 1)
        // length(4) type(1) id(4) then string "T" first.
        #expect(Array(encoded[9 ..< 14]) == [0, 0, 0, 1, UInt8(ascii: "T")])
        #expect(Array(encoded[14 ..< 19]) == [0, 0, 0, 1, UInt8(ascii: "L")])
    }

    @Test("every request decodes back to itself", arguments: requestCases)
    func roundTrip(_ testCase: RequestCase) throws {
        let encoded = SFTPCodec.encode(testCase.request, id: 42)
        let message = try SFTPClientMessage.decode(packet: Array(encoded.dropFirst(4)))
        switch testCase.request {
        case .extended(let name, let payload):
            #expect(message == .request(id: 42, .extended(name: name, payload: payload)))
        case .raw:
            #expect(message == .request(id: 42, .remove(path: "f\u{FFFD}")))
        default:
            #expect(message == .request(id: 42, testCase.request))
        }
    }

    @Test("INIT decodes as initialize")
    func initDecodes() throws {
        let message = try SFTPClientMessage.decode(packet: Array(SFTPCodec.encodeInit().dropFirst(4)))
        #expect(message == .initialize(version: 3, extensions: []))
    }

    @Test("extensionName names the extension a request needs")
    func extensionNames() {
        let expected: [String: String?] = [
            "open": nil, "close": nil, "read": nil, "write": nil, "symlink": nil, "raw": nil,
            "posix-rename": "posix-rename@openssh.com", "fsync": "fsync@openssh.com",
            "hardlink": "hardlink@openssh.com", "statvfs": "statvfs@openssh.com",
            "fstatvfs": "fstatvfs@openssh.com", "limits": "limits@openssh.com", "copy-data": "copy-data",
            "expand-path": "expand-path@openssh.com", "lsetstat": "lsetstat@openssh.com",
            "extended": "home-directory",
        ]
        for testCase in requestCases {
            guard let want = expected[testCase.label] else { continue }
            #expect(testCase.request.extensionName == want, "\(testCase.label)")
        }
        let core = requestCases.filter { $0.type != 200 }
        #expect(core.allSatisfy { $0.request.extensionName == nil })
    }

    // MARK: WRITE helpers

    @Test("writeOverhead is exactly what WRITE adds around its data")
    func writeOverhead() {
        for handleLength in [0, 4, 16, 256] {
            let handle = [UInt8](repeating: 1, count: handleLength)
            for dataLength in [0, 1, 1000] {
                let data = [UInt8](repeating: 2, count: dataLength)
                let length = SFTPCodec.encodedLength(.write(handle: handle, offset: 0, data: data))
                #expect(length == dataLength + SFTPCodec.writeOverhead(handleLength: handleLength))
            }
        }
        #expect(SFTPCodec.writeOverhead(handleLength: 4) == 29)
    }

    @Test("header + data and encodeWrite are byte-identical to encoding .write")
    func writeHeader() {
        let handle: [UInt8] = [1, 2, 3, 4]
        let data = (0 ..< 5000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let reference = SFTPCodec.encode(.write(handle: handle, offset: 1 << 33, data: data), id: 99)

        var split: [UInt8] = []
        SFTPCodec.encodeWriteHeader(id: 99, handle: handle, offset: 1 << 33, dataLength: data.count, into: &split)
        #expect(split.count == SFTPCodec.writeOverhead(handleLength: handle.count))
        split += data
        #expect(split == reference)

        var direct: [UInt8] = []
        data.withUnsafeBytes { SFTPCodec.encodeWrite(id: 99, handle: handle, offset: 1 << 33, data: $0, into: &direct) }
        #expect(direct == reference)
    }

    @Test("thousands of small requests batch into one buffer and decode back in order")
    func manySmallRequests() throws {
        var buffer: [UInt8] = []
        var expected: [SFTPRequest] = []
        for index in 0 ..< 5000 {
            let request: SFTPRequest = index % 3 == 0
                ? .lstat(path: "dir/file-\(index)")
                : (index % 3 == 1 ? .read(handle: [UInt8(index & 0xFF)], offset: UInt64(index) << 18, length: 262_144)
                    : .posixRename(oldPath: "t\(index)", newPath: "f\(index)"))
            expected.append(request)
            SFTPCodec.encode(request, id: UInt32(index), into: &buffer)
        }
        var framer = SFTPPacketFramer()
        framer.append(buffer)
        var decoded: [SFTPRequest] = []
        while let message = try framer.nextFrame({ (packet) throws(SFTPWireError) in
            try SFTPClientMessage.decode(packet: packet)
        }) {
            guard case let .request(id, request) = message else { Issue.record("not a request"); break }
            #expect(id == UInt32(decoded.count))
            decoded.append(request)
        }
        #expect(decoded == expected)
        #expect(framer.bufferedByteCount == 0)
    }

    @Test("open flags have the draft's values")
    func openFlags() {
        #expect(SFTPOpenFlags.read.rawValue == 1)
        #expect(SFTPOpenFlags.write.rawValue == 2)
        #expect(SFTPOpenFlags.append.rawValue == 4)
        #expect(SFTPOpenFlags.create.rawValue == 8)
        #expect(SFTPOpenFlags.truncate.rawValue == 0x10)
        #expect(SFTPOpenFlags.exclusive.rawValue == 0x20)
        #expect(SFTPOpenFlags.replace.rawValue == 0x1A)
        #expect(SFTPOpenFlags.createNew.rawValue == 0x2A)
    }

    @Test("raw bodies built with SFTPWire reach the wire verbatim, invalid UTF-8 included")
    func rawBody() {
        let name: [UInt8] = [0x2F, 0xC3, 0x28]  // invalid UTF-8
        let request = SFTPRequest.raw(type: SFTPPacketType.remove.rawValue,
                                      body: SFTPWire.bytes { SFTPWire.appendString(name, to: &$0) })
        #expect(SFTPCodec.encode(request, id: 5) == frame(type: 13, id: 5, body: wire { $0.string(name) }))
    }
}
