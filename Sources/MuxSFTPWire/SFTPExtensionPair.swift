// MARK: - SFTPExtensionPair

/// A (name, data) pair: a server extension announced in VERSION, or an extended attribute
/// in ATTRS.
///
/// Both halves are SSH strings, i.e. raw bytes. The bytes are kept verbatim
/// (``nameBytes``/``dataBytes``) so binary attribute values survive a round trip;
/// ``name`` and ``data`` are UTF-8 views that replace invalid sequences with U+FFFD.
/// Equality compares the raw bytes.
public struct SFTPExtensionPair: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The name exactly as on the wire.
    public var nameBytes: [UInt8]
    /// The data exactly as on the wire (for VERSION pairs a version string such as "1").
    public var dataBytes: [UInt8]

    /// Creates a pair from text (encoded as UTF-8).
    public init(name: String, data: String) {
        self.nameBytes = Array(name.utf8)
        self.dataBytes = Array(data.utf8)
    }

    /// Creates a pair from raw bytes, e.g. a binary extended attribute value.
    public init(nameBytes: [UInt8], dataBytes: [UInt8]) {
        self.nameBytes = nameBytes
        self.dataBytes = dataBytes
    }

    /// The name as text (lossy for invalid UTF-8); setting stores the UTF-8 bytes.
    public var name: String {
        get { String(decoding: nameBytes, as: UTF8.self) }
        set { nameBytes = Array(newValue.utf8) }
    }

    /// The data as text (lossy for invalid UTF-8); setting stores the UTF-8 bytes.
    public var data: String {
        get { String(decoding: dataBytes, as: UTF8.self) }
        set { dataBytes = Array(newValue.utf8) }
    }

    public var description: String { "\(name)=\(data)" }

    /// Bytes this pair takes on the wire (two SSH strings).
    var encodedLength: Int { 8 + nameBytes.count + dataBytes.count }

    func encode(into buffer: inout [UInt8]) {
        SFTPWire.appendString(nameBytes, to: &buffer)
        SFTPWire.appendString(dataBytes, to: &buffer)
    }

    static func decode(from cursor: inout SFTPByteCursor, _ field: String) throws(SFTPWireError) -> SFTPExtensionPair {
        let name = try cursor.readBytes("\(field) name")
        let data = try cursor.readBytes("\(field) data")
        return SFTPExtensionPair(nameBytes: name, dataBytes: data)
    }
}

// MARK: - Extension names

/// Names of the extensions this codec encodes (as announced by OpenSSH 9.2 sftp-server).
public enum SFTPExtensionName {
    public static let posixRename = "posix-rename@openssh.com"
    public static let fsync = "fsync@openssh.com"
    public static let hardlink = "hardlink@openssh.com"
    public static let statvfs = "statvfs@openssh.com"
    public static let fstatvfs = "fstatvfs@openssh.com"
    public static let limits = "limits@openssh.com"
    public static let copyData = "copy-data"
    public static let expandPath = "expand-path@openssh.com"
    public static let lsetstat = "lsetstat@openssh.com"
    public static let homeDirectory = "home-directory"
    public static let usersGroupsByID = "users-groups-by-id@openssh.com"
}

// MARK: - Looking up announced extensions

extension Array where Element == SFTPExtensionPair {
    /// Whether the server announced extension `name` (any version string).
    public func containsExtension(_ name: String) -> Bool {
        let wanted = [UInt8](name.utf8)
        return contains { $0.nameBytes == wanted }
    }

    /// The version string the server announced for extension `name`, or nil.
    public func extensionVersion(_ name: String) -> String? {
        let wanted = [UInt8](name.utf8)
        return first { $0.nameBytes == wanted }?.data
    }
}
