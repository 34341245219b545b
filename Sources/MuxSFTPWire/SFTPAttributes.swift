// MARK: - SFTPAttributeFlags

/// The `flags` word that opens an ATTRS structure: which optional fields follow.
public struct SFTPAttributeFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// uint64 size follows.
    public static let size = SFTPAttributeFlags(rawValue: 0x0000_0001)
    /// uint32 uid, uint32 gid follow.
    public static let uidgid = SFTPAttributeFlags(rawValue: 0x0000_0002)
    /// uint32 permissions follows.
    public static let permissions = SFTPAttributeFlags(rawValue: 0x0000_0004)
    /// uint32 atime, uint32 mtime follow.
    public static let acmodtime = SFTPAttributeFlags(rawValue: 0x0000_0008)
    /// uint32 count, then count (string, string) pairs follow.
    public static let extended = SFTPAttributeFlags(rawValue: 0x8000_0000)
}

// MARK: - SFTPAttributes

/// File attributes as SFTP version 3 carries them (ATTRS). Every field is optional; `nil`
/// means "not present" (in a reply) or "leave unchanged" (in SETSTAT / OPEN / MKDIR).
///
/// The wire has only pairs for ids and times: uid and gid travel together, and so do atime
/// and mtime. When only one half of a pair is set, that pair is NOT encoded (sending 0 for the
/// other half would chown to root or date the file to 1970). ``flags`` tells exactly what
/// ``encode(into:)`` will send. Times are 32-bit seconds since the epoch (v3 limit: 2106).
public struct SFTPAttributes: Sendable, Equatable, Hashable {
    public var size: UInt64?
    public var uid: UInt32?
    public var gid: UInt32?
    /// POSIX mode bits including the `S_IFMT` file type (see ``SFTPFileTypeBits``).
    public var permissions: UInt32?
    public var atime: UInt32?
    public var mtime: UInt32?
    /// Extended attributes (`SSH_FILEXFER_ATTR_EXTENDED`); empty when absent.
    public var extended: [SFTPExtensionPair]

    /// Creates attributes; every field defaults to absent.
    public init(
        size: UInt64? = nil, uid: UInt32? = nil, gid: UInt32? = nil, permissions: UInt32? = nil,
        atime: UInt32? = nil, mtime: UInt32? = nil, extended: [SFTPExtensionPair] = []
    ) {
        self.size = size
        self.uid = uid
        self.gid = gid
        self.permissions = permissions
        self.atime = atime
        self.mtime = mtime
        self.extended = extended
    }

    /// No attributes at all (flags 0): what OPEN and MKDIR send when nothing is to be set.
    public static let empty = SFTPAttributes()

    // MARK: File type

    /// The `S_IFMT` bits of ``permissions``, or nil when the server sent no permissions.
    public var fileTypeBits: UInt32? { permissions.map { $0 & SFTPFileTypeBits.mask } }
    /// True when permissions are present and say directory.
    public var isDirectory: Bool { fileTypeBits == SFTPFileTypeBits.directory }
    /// True when permissions are present and say regular file.
    public var isRegularFile: Bool { fileTypeBits == SFTPFileTypeBits.regularFile }
    /// True when permissions are present and say symbolic link (only LSTAT / READDIR report this;
    /// STAT follows links).
    public var isSymlink: Bool { fileTypeBits == SFTPFileTypeBits.symbolicLink }
    /// The permission bits without the file type (`mode & 0o7777`).
    public var modeBits: UInt32? { permissions.map { $0 & 0o7777 } }

    // MARK: Encoding

    /// The flags ``encode(into:)`` sends: a pair field only when both halves are set.
    public var flags: SFTPAttributeFlags {
        var flags: SFTPAttributeFlags = []
        if size != nil { flags.insert(.size) }
        if uid != nil, gid != nil { flags.insert(.uidgid) }
        if permissions != nil { flags.insert(.permissions) }
        if atime != nil, mtime != nil { flags.insert(.acmodtime) }
        if !extended.isEmpty { flags.insert(.extended) }
        return flags
    }

    /// Bytes ``encode(into:)`` appends.
    public var encodedLength: Int {
        var length = 4
        if size != nil { length += 8 }
        if uid != nil, gid != nil { length += 8 }
        if permissions != nil { length += 4 }
        if atime != nil, mtime != nil { length += 8 }
        if !extended.isEmpty {
            length += 4
            for pair in extended { length += pair.encodedLength }
        }
        return length
    }

    /// Appends the ATTRS structure: flags, then the present fields in wire order.
    public func encode(into buffer: inout [UInt8]) {
        SFTPWire.appendUInt32(flags.rawValue, to: &buffer)
        if let size { SFTPWire.appendUInt64(size, to: &buffer) }
        if let uid, let gid {
            SFTPWire.appendUInt32(uid, to: &buffer)
            SFTPWire.appendUInt32(gid, to: &buffer)
        }
        if let permissions { SFTPWire.appendUInt32(permissions, to: &buffer) }
        if let atime, let mtime {
            SFTPWire.appendUInt32(atime, to: &buffer)
            SFTPWire.appendUInt32(mtime, to: &buffer)
        }
        if !extended.isEmpty {
            SFTPWire.appendUInt32(UInt32(truncatingIfNeeded: extended.count), to: &buffer)
            for pair in extended { pair.encode(into: &buffer) }
        }
    }

    /// The ATTRS structure as bytes.
    public var encoded: [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(encodedLength)
        encode(into: &buffer)
        return buffer
    }

    // MARK: Decoding

    /// Decodes one ATTRS structure from the start of `bytes` (trailing bytes are ignored).
    public static func decode(_ bytes: [UInt8]) throws(SFTPWireError) -> SFTPAttributes {
        try SFTPByteCursor.parse(bytes) { (cursor) throws(SFTPWireError) in try decode(from: &cursor) }
    }

    /// Decodes one ATTRS structure at the cursor.
    ///
    /// Flag bits v3 does not define are ignored, as OpenSSH does: they carry no fields in v3.
    static func decode(from cursor: inout SFTPByteCursor) throws(SFTPWireError) -> SFTPAttributes {
        let flags = SFTPAttributeFlags(rawValue: try cursor.readUInt32("attrs flags"))
        var attributes = SFTPAttributes()
        if flags.contains(.size) { attributes.size = try cursor.readUInt64("attrs size") }
        if flags.contains(.uidgid) {
            attributes.uid = try cursor.readUInt32("attrs uid")
            attributes.gid = try cursor.readUInt32("attrs gid")
        }
        if flags.contains(.permissions) { attributes.permissions = try cursor.readUInt32("attrs permissions") }
        if flags.contains(.acmodtime) {
            attributes.atime = try cursor.readUInt32("attrs atime")
            attributes.mtime = try cursor.readUInt32("attrs mtime")
        }
        if flags.contains(.extended) {
            let announced = try cursor.readUInt32("attrs extended count")
            let count = try cursor.checkCount(announced, minimumSize: 8, "attrs extended")
            attributes.extended.reserveCapacity(count)
            for _ in 0 ..< count {
                attributes.extended.append(try SFTPExtensionPair.decode(from: &cursor, "attrs extended"))
            }
        }
        return attributes
    }
}

// MARK: - Debug description

extension SFTPAttributes: CustomStringConvertible {
    public var description: String {
        var parts: [String] = []
        if let size { parts.append("size=\(size)") }
        if let uid { parts.append("uid=\(uid)") }
        if let gid { parts.append("gid=\(gid)") }
        if let permissions { parts.append("mode=0o\(String(permissions, radix: 8))") }
        if let atime { parts.append("atime=\(atime)") }
        if let mtime { parts.append("mtime=\(mtime)") }
        if !extended.isEmpty { parts.append("extended=\(extended)") }
        return "SFTPAttributes(" + parts.joined(separator: ", ") + ")"
    }
}
