// MARK: - SFTPStatusCode

/// The error/status code of a STATUS reply (SSH_FX_*).
///
/// Version 3 defines 0-8; OpenSSH sends only those. Codes 9-21 come from later drafts and
/// are named here so a reply from another server still prints something meaningful.
/// Unknown codes are kept as their raw value.
public struct SFTPStatusCode: RawRepresentable, Sendable, Equatable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    // MARK: Version 3
    /// SSH_FX_OK: the request succeeded.
    public static let ok = SFTPStatusCode(rawValue: 0)
    /// SSH_FX_EOF: read past the end of a file, or a directory listing is complete.
    public static let eof = SFTPStatusCode(rawValue: 1)
    /// SSH_FX_NO_SUCH_FILE: the path or handle refers to nothing.
    public static let noSuchFile = SFTPStatusCode(rawValue: 2)
    /// SSH_FX_PERMISSION_DENIED.
    public static let permissionDenied = SFTPStatusCode(rawValue: 3)
    /// SSH_FX_FAILURE: anything else went wrong (OpenSSH's catch-all, e.g. EEXIST, ENOTEMPTY).
    public static let failure = SFTPStatusCode(rawValue: 4)
    /// SSH_FX_BAD_MESSAGE: the server could not parse the request.
    public static let badMessage = SFTPStatusCode(rawValue: 5)
    /// SSH_FX_NO_CONNECTION (client-side pseudo status).
    public static let noConnection = SFTPStatusCode(rawValue: 6)
    /// SSH_FX_CONNECTION_LOST (client-side pseudo status).
    public static let connectionLost = SFTPStatusCode(rawValue: 7)
    /// SSH_FX_OP_UNSUPPORTED: the server does not implement the request or extension.
    public static let opUnsupported = SFTPStatusCode(rawValue: 8)

    // MARK: Later drafts (not sent by OpenSSH)
    public static let invalidHandle = SFTPStatusCode(rawValue: 9)
    public static let noSuchPath = SFTPStatusCode(rawValue: 10)
    public static let fileAlreadyExists = SFTPStatusCode(rawValue: 11)
    public static let writeProtect = SFTPStatusCode(rawValue: 12)
    public static let noMedia = SFTPStatusCode(rawValue: 13)
    public static let noSpaceOnFilesystem = SFTPStatusCode(rawValue: 14)
    public static let quotaExceeded = SFTPStatusCode(rawValue: 15)
    public static let unknownPrincipal = SFTPStatusCode(rawValue: 16)
    public static let lockConflict = SFTPStatusCode(rawValue: 17)
    public static let directoryNotEmpty = SFTPStatusCode(rawValue: 18)
    public static let notADirectory = SFTPStatusCode(rawValue: 19)
    public static let invalidFilename = SFTPStatusCode(rawValue: 20)
    public static let linkLoop = SFTPStatusCode(rawValue: 21)

    private static let names: [(symbol: String, text: String)] = [
        ("SSH_FX_OK", "success"),
        ("SSH_FX_EOF", "end of file"),
        ("SSH_FX_NO_SUCH_FILE", "no such file or directory"),
        ("SSH_FX_PERMISSION_DENIED", "permission denied"),
        ("SSH_FX_FAILURE", "failure"),
        ("SSH_FX_BAD_MESSAGE", "bad message (the server could not parse the request)"),
        ("SSH_FX_NO_CONNECTION", "no connection"),
        ("SSH_FX_CONNECTION_LOST", "connection lost"),
        ("SSH_FX_OP_UNSUPPORTED", "operation not supported by the server"),
        ("SSH_FX_INVALID_HANDLE", "invalid handle"),
        ("SSH_FX_NO_SUCH_PATH", "no such path"),
        ("SSH_FX_FILE_ALREADY_EXISTS", "file already exists"),
        ("SSH_FX_WRITE_PROTECT", "write protected"),
        ("SSH_FX_NO_MEDIA", "no media"),
        ("SSH_FX_NO_SPACE_ON_FILESYSTEM", "no space left on file system"),
        ("SSH_FX_QUOTA_EXCEEDED", "quota exceeded"),
        ("SSH_FX_UNKNOWN_PRINCIPAL", "unknown principal"),
        ("SSH_FX_LOCK_CONFLICT", "lock conflict"),
        ("SSH_FX_DIR_NOT_EMPTY", "directory not empty"),
        ("SSH_FX_NOT_A_DIRECTORY", "not a directory"),
        ("SSH_FX_INVALID_FILENAME", "invalid file name"),
        ("SSH_FX_LINK_LOOP", "too many symbolic links"),
    ]

    /// The protocol's symbol, e.g. `SSH_FX_NO_SUCH_FILE`, or `SSH_FX_<n>` when unknown.
    public var symbol: String {
        rawValue < UInt32(Self.names.count) ? Self.names[Int(rawValue)].symbol : "SSH_FX_\(rawValue)"
    }

    /// A human description, e.g. "no such file or directory".
    public var description: String {
        rawValue < UInt32(Self.names.count) ? Self.names[Int(rawValue)].text : "unknown status \(rawValue)"
    }
}

// MARK: - SFTPStatus

/// A STATUS reply's contents: code, the server's message, and its language tag.
///
/// Conforms to `Error` so a client can throw a failed STATUS as is.
public struct SFTPStatus: Error, Sendable, Equatable, Hashable, CustomStringConvertible {
    public var code: SFTPStatusCode
    /// Free text from the server (OpenSSH sends e.g. "No such file"); may be empty.
    public var message: String
    /// RFC 1766 language tag of `message`; usually empty.
    public var language: String

    public init(code: SFTPStatusCode, message: String = "", language: String = "") {
        self.code = code
        self.message = message
        self.language = language
    }

    /// True for SSH_FX_OK.
    public var isOK: Bool { code == .ok }
    /// True for SSH_FX_EOF.
    public var isEOF: Bool { code == .eof }

    public var description: String {
        "\(message.isEmpty ? code.description : message) (\(code.symbol))"
    }
}
