// MARK: - SFTPReply

/// One server packet of SFTP version 3.
public enum SFTPReply: Sendable, Equatable, Hashable {
    /// VERSION (2): the server's protocol version and the extensions it announces.
    case version(UInt32, extensions: [SFTPExtensionPair])
    /// STATUS (101): success or the reason a request failed.
    case status(id: UInt32, SFTPStatus)
    /// HANDLE (102): an opaque handle for OPEN / OPENDIR (OpenSSH: 4 bytes; at most 256 by spec).
    case handle(id: UInt32, [UInt8])
    /// DATA (103): bytes answering a READ (may be shorter than asked).
    case data(id: UInt32, [UInt8])
    /// NAME (104): entries answering READDIR, REALPATH, READLINK, expand-path.
    case name(id: UInt32, [SFTPNameEntry])
    /// ATTRS (105): attributes answering STAT, LSTAT, FSTAT.
    case attrs(id: UInt32, SFTPAttributes)
    /// EXTENDED_REPLY (201): an extension's answer, undecoded (see ``SFTPLimits/decode(_:)``,
    /// ``SFTPStatVFS/decode(_:)``).
    case extendedReply(id: UInt32, [UInt8])

    /// The request id this reply answers; nil for VERSION.
    public var requestID: UInt32? {
        switch self {
        case .version: return nil
        case let .status(id, _), let .handle(id, _), let .data(id, _), let .extendedReply(id, _):
            return id
        case let .name(id, _): return id
        case let .attrs(id, _): return id
        }
    }

    /// The packet type byte of this reply.
    public var packetType: SFTPPacketType {
        switch self {
        case .version: return .version
        case .status: return .status
        case .handle: return .handle
        case .data: return .data
        case .name: return .name
        case .attrs: return .attrs
        case .extendedReply: return .extendedReply
        }
    }
}

// MARK: - SFTPNameEntry

/// One entry of a NAME reply: file name, `ls -l`-style long name, attributes.
///
/// File names are raw bytes on the wire and may not be valid UTF-8. ``filename`` is always
/// a String (invalid sequences replaced by U+FFFD); ``filenameBytes`` always gives the exact
/// wire bytes, which is what to send back (via ``SFTPRequest/raw(type:body:)``) to operate
/// on such a file. The raw copy is stored only when the name is not valid UTF-8, so
/// ordinary listings cost nothing extra. ``longname`` is display text and is decoded lossily.
public struct SFTPNameEntry: Sendable, Equatable, Hashable {
    private var storedFilename: String
    /// The exact wire bytes, kept only when they are not valid UTF-8.
    private var rawFilename: [UInt8]?
    /// The `ls -l` style line the server formats (OpenSSH: for READDIR; "" from REALPATH in
    /// newer servers). Not meant to be parsed.
    public var longname: String
    public var attributes: SFTPAttributes

    /// Creates an entry from a valid file name.
    public init(filename: String, longname: String = "", attributes: SFTPAttributes = .empty) {
        self.storedFilename = filename
        self.rawFilename = nil
        self.longname = longname
        self.attributes = attributes
    }

    /// Creates an entry from wire bytes, keeping them verbatim when they are not valid UTF-8.
    public init(filenameBytes: [UInt8], longname: String = "", attributes: SFTPAttributes = .empty) {
        let decoded = filenameBytes.withUnsafeBytes { SFTPWire.decodeText($0) }
        self.storedFilename = decoded.text
        self.rawFilename = decoded.isExact ? nil : filenameBytes
        self.longname = longname
        self.attributes = attributes
    }

    /// The file name as text; lossy (U+FFFD) when ``filenameIsValidUTF8`` is false.
    /// Setting it replaces the name with valid UTF-8 text.
    public var filename: String {
        get { storedFilename }
        set {
            storedFilename = newValue
            rawFilename = nil
        }
    }

    /// The file name exactly as the server sent it.
    public var filenameBytes: [UInt8] { rawFilename ?? Array(storedFilename.utf8) }

    /// False when the server's bytes were not valid UTF-8 and ``filename`` is an approximation.
    public var filenameIsValidUTF8: Bool { rawFilename == nil }

    // MARK: Wire

    var encodedLength: Int {
        8 + (rawFilename?.count ?? storedFilename.utf8.count) + longname.utf8.count + attributes.encodedLength
    }

    func encode(into buffer: inout [UInt8]) {
        if let rawFilename {
            SFTPWire.appendString(rawFilename, to: &buffer)
        } else {
            SFTPWire.appendString(storedFilename, to: &buffer)
        }
        SFTPWire.appendString(longname, to: &buffer)
        attributes.encode(into: &buffer)
    }

    static func decode(from cursor: inout SFTPByteCursor) throws(SFTPWireError) -> SFTPNameEntry {
        let nameView = try cursor.readStringView("name entry filename")
        let decoded = SFTPWire.decodeText(nameView)
        let longname = try cursor.readText("name entry longname")
        let attributes = try SFTPAttributes.decode(from: &cursor)
        var entry = SFTPNameEntry(filename: decoded.text, longname: longname, attributes: attributes)
        if !decoded.isExact { entry.rawFilename = Array(nameView) }
        return entry
    }
}

extension SFTPNameEntry: CustomStringConvertible {
    public var description: String {
        "SFTPNameEntry(\(filenameIsValidUTF8 ? filename.debugDescription : "bytes \(filenameBytes)"), \(attributes))"
    }
}
