// MARK: - Decoding replies

extension SFTPReply {
    /// Decodes one server packet. `packet` starts at the type byte (the length prefix already
    /// removed) and must hold exactly one packet. Bytes after the last field are ignored, as
    /// OpenSSH's client does, so servers that pad or add fields still work.
    ///
    /// STATUS from servers that omit the message and language strings decodes with both empty.
    public static func decode(packet: UnsafeRawBufferPointer) throws(SFTPWireError) -> SFTPReply {
        var cursor = SFTPByteCursor(packet)
        let type = try cursor.readUInt8("packet type")
        switch type {
        case SFTPPacketType.version.rawValue:
            let version = try cursor.readUInt32("VERSION version")
            var extensions: [SFTPExtensionPair] = []
            while !cursor.isAtEnd {
                extensions.append(try SFTPExtensionPair.decode(from: &cursor, "VERSION extension"))
            }
            return .version(version, extensions: extensions)

        case SFTPPacketType.status.rawValue:
            let id = try cursor.readUInt32("STATUS id")
            let code = SFTPStatusCode(rawValue: try cursor.readUInt32("STATUS code"))
            let message = cursor.isAtEnd ? "" : try cursor.readText("STATUS message")
            let language = cursor.isAtEnd ? "" : try cursor.readText("STATUS language")
            return .status(id: id, SFTPStatus(code: code, message: message, language: language))

        case SFTPPacketType.handle.rawValue:
            let id = try cursor.readUInt32("HANDLE id")
            return .handle(id: id, try cursor.readBytes("HANDLE handle"))

        case SFTPPacketType.data.rawValue:
            let id = try cursor.readUInt32("DATA id")
            return .data(id: id, try cursor.readBytes("DATA data"))

        case SFTPPacketType.name.rawValue:
            let id = try cursor.readUInt32("NAME id")
            let announced = try cursor.readUInt32("NAME count")
            // Each entry needs at least two empty strings and a flags word: 12 bytes.
            let count = try cursor.checkCount(announced, minimumSize: 12, "NAME entry")
            var entries: [SFTPNameEntry] = []
            entries.reserveCapacity(count)
            for _ in 0 ..< count {
                entries.append(try SFTPNameEntry.decode(from: &cursor))
            }
            return .name(id: id, entries)

        case SFTPPacketType.attrs.rawValue:
            let id = try cursor.readUInt32("ATTRS id")
            return .attrs(id: id, try SFTPAttributes.decode(from: &cursor))

        case SFTPPacketType.extendedReply.rawValue:
            let id = try cursor.readUInt32("EXTENDED_REPLY id")
            return .extendedReply(id: id, cursor.readRest())

        default:
            throw .unknownType(type)
        }
    }

    /// Decodes one server packet held in an array (type byte first, no length prefix).
    public static func decode(packet: [UInt8]) throws(SFTPWireError) -> SFTPReply {
        try SFTPByteCursor.parse(packet) { (cursor) throws(SFTPWireError) in try decode(packet: cursor.bytes) }
    }
}

// MARK: - Encoding replies (for test servers and fakes)

extension SFTPCodec {
    /// Appends one complete server packet (length prefix included). muxsync's client never
    /// sends these; they exist for in-memory fake servers and tests.
    public static func encodeReply(_ reply: SFTPReply, into buffer: inout [UInt8]) {
        let start = buffer.count
        SFTPWire.appendUInt32(0, to: &buffer)  // patched below
        buffer.append(reply.packetType.rawValue)
        if let id = reply.requestID { SFTPWire.appendUInt32(id, to: &buffer) }
        switch reply {
        case let .version(version, extensions):
            SFTPWire.appendUInt32(version, to: &buffer)
            for pair in extensions { pair.encode(into: &buffer) }
        case let .status(_, status):
            SFTPWire.appendUInt32(status.code.rawValue, to: &buffer)
            SFTPWire.appendString(status.message, to: &buffer)
            SFTPWire.appendString(status.language, to: &buffer)
        case let .handle(_, bytes), let .data(_, bytes):
            SFTPWire.appendString(bytes, to: &buffer)
        case let .name(_, entries):
            SFTPWire.appendUInt32(UInt32(truncatingIfNeeded: entries.count), to: &buffer)
            for entry in entries { entry.encode(into: &buffer) }
        case let .attrs(_, attributes):
            attributes.encode(into: &buffer)
        case let .extendedReply(_, payload):
            buffer.append(contentsOf: payload)
        }
        let length = UInt32(truncatingIfNeeded: buffer.count - start - 4)
        buffer[start] = UInt8(truncatingIfNeeded: length >> 24)
        buffer[start + 1] = UInt8(truncatingIfNeeded: length >> 16)
        buffer[start + 2] = UInt8(truncatingIfNeeded: length >> 8)
        buffer[start + 3] = UInt8(truncatingIfNeeded: length)
    }

    /// One complete server packet as a new array.
    public static func encodeReply(_ reply: SFTPReply) -> [UInt8] {
        var buffer: [UInt8] = []
        encodeReply(reply, into: &buffer)
        return buffer
    }
}
