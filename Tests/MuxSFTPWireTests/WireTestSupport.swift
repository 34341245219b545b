@testable import MuxSFTPWire

// MARK: - Hand-built wire bytes
//
// Written independently of SFTPWire so the tests do not check the encoder against itself.

/// Accumulates big-endian fields the way the draft describes them (a class so calls chain).
final class WireBytes {
    var bytes: [UInt8] = []

    @discardableResult
    func u8(_ value: UInt8) -> WireBytes {
        bytes.append(value)
        return self
    }

    @discardableResult
    func u32(_ value: UInt32) -> WireBytes {
        bytes += [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
        return self
    }

    @discardableResult
    func u64(_ value: UInt64) -> WireBytes {
        u32(UInt32(value >> 32))
        return u32(UInt32(value & 0xFFFF_FFFF))
    }

    @discardableResult
    func string(_ raw: [UInt8]) -> WireBytes {
        u32(UInt32(raw.count))
        bytes += raw
        return self
    }

    @discardableResult
    func string(_ text: String) -> WireBytes {
        string(Array(text.utf8))
    }

    @discardableResult
    func raw(_ raw: [UInt8]) -> WireBytes {
        bytes += raw
        return self
    }
}

/// Builds bytes with a closure: `wire { $0.u32(1); $0.string("a") }`.
func wire(_ build: (WireBytes) -> Void) -> [UInt8] {
    let builder = WireBytes()
    build(builder)
    return builder.bytes
}

/// Frames a packet: uint32 length, type, optional uint32 id, body.
func frame(type: UInt8, id: UInt32?, body: [UInt8]) -> [UInt8] {
    var inner: [UInt8] = [type]
    if let id { inner += wire { $0.u32(id) } }
    inner += body
    return wire { $0.u32(UInt32(inner.count)) } + inner
}

// MARK: - Reader helpers

/// Outcome of draining a reader: the replies and the error that stopped it, if any.
struct Drained {
    var replies: [SFTPReply] = []
    var errors: [SFTPWireError] = []
}

/// Calls `next()` until it returns nil or throws a sticky framing error; skipped packets'
/// errors are collected. `limit` guards against a reader that never stops.
func drain(_ reader: inout SFTPPacketReader, into result: inout Drained, limit: Int = 1_000_000) {
    for _ in 0 ..< limit {
        do {
            guard let reply = try reader.next() else { return }
            result.replies.append(reply)
        } catch {
            result.errors.append(error)
            if case .packetTooLarge = error { return }
            if case .malformed(let text) = error, text.hasPrefix("packet length 0") { return }
        }
    }
}

/// Feeds `stream` to a fresh reader in pieces whose sizes `nextSize` chooses, draining after each.
func feed(_ stream: [UInt8], maxPacketLength: Int = 1 << 20, nextSize: (Int) -> Int) -> Drained {
    var reader = SFTPPacketReader(maxPacketLength: maxPacketLength)
    var result = Drained()
    var position = 0
    while position < stream.count {
        let size = max(1, min(nextSize(stream.count - position), stream.count - position))
        reader.append(stream[position ..< position + size])
        position += size
        drain(&reader, into: &result)
    }
    return result
}

// MARK: - Sample values

/// A set of replies covering every reply type, used by the splitting and fuzz tests.
let sampleReplies: [SFTPReply] = [
    .version(3, extensions: [
        SFTPExtensionPair(name: "posix-rename@openssh.com", data: "1"),
        SFTPExtensionPair(name: "statvfs@openssh.com", data: "2"),
        SFTPExtensionPair(name: "copy-data", data: "1"),
    ]),
    .status(id: 1, SFTPStatus(code: .ok, message: "Success", language: "")),
    .status(id: 2, SFTPStatus(code: .noSuchFile, message: "No such file", language: "en")),
    .handle(id: 3, [0, 0, 0, 7]),
    .data(id: 4, Array(0 ..< 200).map { UInt8($0) }),
    .data(id: 5, []),
    .name(id: 6, [
        SFTPNameEntry(filename: ".", longname: "drwxr-xr-x 2 u g 4096 Jan 1 00:00 .",
                      attributes: SFTPAttributes(size: 4096, permissions: 0o40755)),
        SFTPNameEntry(filenameBytes: [0x66, 0xFF, 0x6F], longname: "-rw-r--r-- ...",
                      attributes: SFTPAttributes(size: 3, uid: 1000, gid: 1000, permissions: 0o100644,
                                                 atime: 1_700_000_000, mtime: 1_700_000_001)),
    ]),
    .attrs(id: 7, SFTPAttributes(size: 1 << 40, uid: 0, gid: 0, permissions: 0o120777, atime: 1, mtime: 2,
                                 extended: [SFTPExtensionPair(nameBytes: [1, 2], dataBytes: [0, 255])])),
    .extendedReply(id: 8, SFTPLimits(maxPacketLength: 262_144, maxReadLength: 261_120,
                                     maxWriteLength: 261_120, maxOpenHandles: 1019).encoded),
]

/// The sample replies encoded back to back.
func sampleStream() -> [UInt8] {
    var stream: [UInt8] = []
    for reply in sampleReplies { SFTPCodec.encodeReply(reply, into: &stream) }
    return stream
}
