// MARK: - SFTPClientMessage

/// A packet a client sends, decoded. muxsync's client only encodes these; decoding exists for
/// in-memory fake servers and for round-trip tests of the encoder.
///
/// Decoding is the inverse of ``SFTPCodec/encode(_:id:into:)`` with three documented
/// normalisations: paths are decoded as UTF-8 (invalid bytes become U+FFFD); an EXTENDED
/// request whose name is one of the modelled extensions decodes to its typed case (so
/// `.extended(name: "fsync@openssh.com", ...)` comes back as `.fsync`); and `.raw` requests
/// come back as the typed case of their type byte.
public enum SFTPClientMessage: Sendable, Equatable {
    /// INIT (1): the client's version and (rarely) its extensions.
    case initialize(version: UInt32, extensions: [SFTPExtensionPair])
    /// Any request with its id.
    case request(id: UInt32, SFTPRequest)

    /// Decodes one client packet: type byte first, length prefix removed.
    /// Trailing bytes after the last field are ignored.
    public static func decode(packet: UnsafeRawBufferPointer) throws(SFTPWireError) -> SFTPClientMessage {
        var cursor = SFTPByteCursor(packet)
        let type = try cursor.readUInt8("packet type")
        if type == SFTPPacketType.initialize.rawValue {
            let version = try cursor.readUInt32("INIT version")
            var extensions: [SFTPExtensionPair] = []
            while !cursor.isAtEnd {
                extensions.append(try SFTPExtensionPair.decode(from: &cursor, "INIT extension"))
            }
            return .initialize(version: version, extensions: extensions)
        }
        guard let packetType = SFTPPacketType(rawValue: type) else { throw .unknownType(type) }
        let id = try cursor.readUInt32("request id")
        return .request(id: id, try decodeRequest(packetType, &cursor))
    }

    /// Decodes one client packet held in an array (type byte first, no length prefix).
    public static func decode(packet: [UInt8]) throws(SFTPWireError) -> SFTPClientMessage {
        try SFTPByteCursor.parse(packet) { (cursor) throws(SFTPWireError) in try decode(packet: cursor.bytes) }
    }

    // MARK: Core requests

    private static func decodeRequest(
        _ type: SFTPPacketType, _ cursor: inout SFTPByteCursor
    ) throws(SFTPWireError) -> SFTPRequest {
        switch type {
        case .open:
            let path = try cursor.readText("OPEN filename")
            let flags = SFTPOpenFlags(rawValue: try cursor.readUInt32("OPEN pflags"))
            return .open(path: path, flags: flags, attributes: try SFTPAttributes.decode(from: &cursor))
        case .close: return .close(handle: try cursor.readBytes("CLOSE handle"))
        case .read:
            let handle = try cursor.readBytes("READ handle")
            let offset = try cursor.readUInt64("READ offset")
            return .read(handle: handle, offset: offset, length: try cursor.readUInt32("READ length"))
        case .write:
            let handle = try cursor.readBytes("WRITE handle")
            let offset = try cursor.readUInt64("WRITE offset")
            return .write(handle: handle, offset: offset, data: try cursor.readBytes("WRITE data"))
        case .lstat: return .lstat(path: try cursor.readText("LSTAT path"))
        case .fstat: return .fstat(handle: try cursor.readBytes("FSTAT handle"))
        case .setstat:
            let path = try cursor.readText("SETSTAT path")
            return .setstat(path: path, attributes: try SFTPAttributes.decode(from: &cursor))
        case .fsetstat:
            let handle = try cursor.readBytes("FSETSTAT handle")
            return .fsetstat(handle: handle, attributes: try SFTPAttributes.decode(from: &cursor))
        case .opendir: return .opendir(path: try cursor.readText("OPENDIR path"))
        case .readdir: return .readdir(handle: try cursor.readBytes("READDIR handle"))
        case .remove: return .remove(path: try cursor.readText("REMOVE filename"))
        case .mkdir:
            let path = try cursor.readText("MKDIR path")
            return .mkdir(path: path, attributes: try SFTPAttributes.decode(from: &cursor))
        case .rmdir: return .rmdir(path: try cursor.readText("RMDIR path"))
        case .realpath: return .realpath(path: try cursor.readText("REALPATH path"))
        case .stat: return .stat(path: try cursor.readText("STAT path"))
        case .rename:
            let oldPath = try cursor.readText("RENAME oldpath")
            return .rename(oldPath: oldPath, newPath: try cursor.readText("RENAME newpath"))
        case .readlink: return .readlink(path: try cursor.readText("READLINK path"))
        case .symlink:
            // OpenSSH order: target first, then the link (see SFTPRequest.symlink).
            let targetPath = try cursor.readText("SYMLINK targetpath")
            return .symlink(linkPath: try cursor.readText("SYMLINK linkpath"), targetPath: targetPath)
        case .extended:
            return try decodeExtended(&cursor)
        case .initialize, .version, .status, .handle, .data, .name, .attrs, .extendedReply:
            throw .unknownType(type.rawValue)
        }
    }

    // MARK: Extensions

    private static func decodeExtended(_ cursor: inout SFTPByteCursor) throws(SFTPWireError) -> SFTPRequest {
        let name = try cursor.readText("EXTENDED name")
        switch name {
        case SFTPExtensionName.posixRename:
            let oldPath = try cursor.readText("posix-rename oldpath")
            return .posixRename(oldPath: oldPath, newPath: try cursor.readText("posix-rename newpath"))
        case SFTPExtensionName.fsync:
            return .fsync(handle: try cursor.readBytes("fsync handle"))
        case SFTPExtensionName.hardlink:
            let oldPath = try cursor.readText("hardlink oldpath")
            return .hardlink(oldPath: oldPath, newPath: try cursor.readText("hardlink newpath"))
        case SFTPExtensionName.statvfs:
            return .statvfs(path: try cursor.readText("statvfs path"))
        case SFTPExtensionName.fstatvfs:
            return .fstatvfs(handle: try cursor.readBytes("fstatvfs handle"))
        case SFTPExtensionName.limits:
            return .limits
        case SFTPExtensionName.copyData:
            let readHandle = try cursor.readBytes("copy-data read-handle")
            let readOffset = try cursor.readUInt64("copy-data read-offset")
            let length = try cursor.readUInt64("copy-data length")
            let writeHandle = try cursor.readBytes("copy-data write-handle")
            let writeOffset = try cursor.readUInt64("copy-data write-offset")
            return .copyData(
                readHandle: readHandle, readOffset: readOffset, length: length,
                writeHandle: writeHandle, writeOffset: writeOffset)
        case SFTPExtensionName.expandPath:
            return .expandPath(path: try cursor.readText("expand-path path"))
        case SFTPExtensionName.lsetstat:
            let path = try cursor.readText("lsetstat path")
            return .lsetstat(path: path, attributes: try SFTPAttributes.decode(from: &cursor))
        default:
            return .extended(name: name, payload: cursor.readRest())
        }
    }
}
