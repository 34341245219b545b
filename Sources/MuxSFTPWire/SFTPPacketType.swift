// MARK: - SFTPPacketType

/// Packet type bytes of SFTP version 3 (draft-ietf-secsh-filexfer-02, OpenSSH sftp.h).
public enum SFTPPacketType: UInt8, Sendable, CaseIterable {
    // MARK: Session set-up
    case initialize = 1
    case version = 2

    // MARK: Requests
    case open = 3
    case close = 4
    case read = 5
    case write = 6
    case lstat = 7
    case fstat = 8
    case setstat = 9
    case fsetstat = 10
    case opendir = 11
    case readdir = 12
    case remove = 13
    case mkdir = 14
    case rmdir = 15
    case realpath = 16
    case stat = 17
    case rename = 18
    case readlink = 19
    case symlink = 20
    case extended = 200

    // MARK: Replies
    case status = 101
    case handle = 102
    case data = 103
    case name = 104
    case attrs = 105
    case extendedReply = 201
}

// MARK: - Protocol constants

extension SFTPCodec {
    /// The protocol version this codec speaks.
    public static let protocolVersion: UInt32 = 3

    /// Bytes a DATA reply adds around its payload, length prefix included
    /// (uint32 length, byte type, uint32 id, uint32 data length). A reader whose
    /// `maxPacketLength` is below `readLength + dataReplyOverhead - 4` rejects full-size reads.
    public static let dataReplyOverhead = 13
}

// MARK: - File type bits

/// The `S_IFMT` file type bits carried in ``SFTPAttributes/permissions`` (POSIX values,
/// which every SFTP v3 server sends regardless of its own platform).
public enum SFTPFileTypeBits {
    /// Mask selecting the type bits.
    public static let mask: UInt32 = 0o170000
    public static let fifo: UInt32 = 0o010000
    public static let characterDevice: UInt32 = 0o020000
    public static let directory: UInt32 = 0o040000
    public static let blockDevice: UInt32 = 0o060000
    public static let regularFile: UInt32 = 0o100000
    public static let symbolicLink: UInt32 = 0o120000
    public static let socket: UInt32 = 0o140000
}
