import Testing
@testable import MuxSFTPWire

@Suite("Attributes")
struct AttributesTests {
    /// All 32 combinations of the five v3 fields, with values that make every byte matter.
    static let combinations: [SFTPAttributes] = (0 ..< 32).map { mask in
        SFTPAttributes(
            size: mask & 1 != 0 ? 0x0102_0304_0506_0708 : nil,
            uid: mask & 2 != 0 ? 1000 : nil,
            gid: mask & 2 != 0 ? 0xFFFF_FFFE : nil,
            permissions: mask & 4 != 0 ? 0o100644 : nil,
            atime: mask & 8 != 0 ? 1_600_000_000 : nil,
            mtime: mask & 8 != 0 ? 0xFFFF_FFFF : nil,
            extended: mask & 16 != 0
                ? [SFTPExtensionPair(name: "user.x", data: "y"),
                   SFTPExtensionPair(nameBytes: [0xFF], dataBytes: [0, 1, 2, 0xFF])]
                : [])
    }

    @Test("every flag combination round-trips and has the exact length", arguments: combinations)
    func roundTrip(_ attributes: SFTPAttributes) throws {
        let encoded = attributes.encoded
        #expect(encoded.count == attributes.encodedLength)
        #expect(try SFTPAttributes.decode(encoded) == attributes)
        // The same structure inside a reply and a request.
        #expect(try SFTPReply.decode(packet: Array(SFTPCodec.encodeReply(.attrs(id: 1, attributes)).dropFirst(4)))
            == .attrs(id: 1, attributes))
        let request = SFTPRequest.setstat(path: "p", attributes: attributes)
        #expect(try SFTPClientMessage.decode(packet: Array(SFTPCodec.encode(request, id: 2).dropFirst(4)))
            == .request(id: 2, request))
    }

    @Test("full structure laid out in draft order")
    func layout() {
        let attributes = SFTPAttributes(size: 1, uid: 2, gid: 3, permissions: 4, atime: 5, mtime: 6,
                                        extended: [SFTPExtensionPair(name: "n", data: "d")])
        let expected = wire {
            $0.u32(0x8000_000F).u64(1).u32(2).u32(3).u32(4).u32(5).u32(6).u32(1).string("n").string("d")
        }
        #expect(attributes.encoded == expected)
        #expect(SFTPAttributes.empty.encoded == [0, 0, 0, 0])
    }

    @Test("half of a uid/gid or atime/mtime pair is not sent")
    func halfPairs() throws {
        let attributes = SFTPAttributes(uid: 5, mtime: 9)
        #expect(attributes.flags == [])
        #expect(attributes.encoded == [0, 0, 0, 0])
        #expect(SFTPAttributes(gid: 1, atime: 2).flags == [])
        #expect(SFTPAttributes(uid: 1, gid: 2, atime: 3, mtime: 4).flags == [.uidgid, .acmodtime])
    }

    @Test("flag bits v3 does not define are ignored, as OpenSSH does")
    func unknownFlags() throws {
        let bytes = wire { $0.u32(0x0000_0101).u64(42) }  // 0x100 is a later-draft bit
        #expect(try SFTPAttributes.decode(bytes) == SFTPAttributes(size: 42))
    }

    @Test("an extended count that cannot fit is rejected before reserving")
    func hugeExtendedCount() {
        let bytes = wire { $0.u32(0x8000_0000).u32(0x7FFF_FFFF).string("a").string("b") }
        #expect(throws: SFTPWireError.self) { try SFTPAttributes.decode(bytes) }
        #expect(throws: SFTPWireError.self) { try SFTPAttributes.decode(wire { $0.u32(0x01).u32(0) }) }
    }

    @Test("file type helpers read the S_IFMT bits")
    func fileTypes() {
        #expect(SFTPAttributes(permissions: 0o40755).isDirectory)
        #expect(SFTPAttributes(permissions: 0o100644).isRegularFile)
        #expect(SFTPAttributes(permissions: 0o120777).isSymlink)
        #expect(!SFTPAttributes(permissions: 0o120777).isRegularFile)
        #expect(!SFTPAttributes(permissions: 0o20666).isDirectory)  // character device
        let unknown = SFTPAttributes(size: 1)
        #expect(!unknown.isDirectory && !unknown.isRegularFile && !unknown.isSymlink)
        #expect(unknown.fileTypeBits == nil)
        #expect(SFTPAttributes(permissions: 0o104755).modeBits == 0o4755)
    }

    @Test("extension pairs keep binary data and compare by bytes")
    func extensionPairs() {
        let binary = SFTPExtensionPair(nameBytes: Array("n".utf8), dataBytes: [0xC3, 0x28])
        #expect(binary.name == "n")
        #expect(binary.dataBytes == [0xC3, 0x28])
        #expect(binary.data == "\u{FFFD}(")
        #expect(binary != SFTPExtensionPair(name: "n", data: "\u{FFFD}("))
        #expect(SFTPExtensionPair(name: "a", data: "1") == SFTPExtensionPair(nameBytes: [0x61], dataBytes: [0x31]))
    }

    @Test("name entries: valid names cost no raw copy; invalid ones keep their bytes")
    func nameEntries() {
        var entry = SFTPNameEntry(filenameBytes: Array("naïve.txt".utf8))
        #expect(entry.filenameIsValidUTF8)
        #expect(entry.filename == "naïve.txt")
        #expect(entry == SFTPNameEntry(filename: "naïve.txt"))

        entry = SFTPNameEntry(filenameBytes: [0x6E, 0xEF, 0x76])  // Latin-1 "nïv"
        #expect(!entry.filenameIsValidUTF8)
        #expect(entry.filenameBytes == [0x6E, 0xEF, 0x76])
        entry.filename = "renamed"
        #expect(entry.filenameIsValidUTF8)
        #expect(entry.filenameBytes == Array("renamed".utf8))
    }
}
