// MARK: - SFTPWireError

/// Why a byte stream could not be understood as SFTP version 3 packets.
///
/// Framing errors (``packetTooLarge(_:limit:)`` and a zero length) leave the stream out of step:
/// ``SFTPPacketReader`` keeps throwing them and the channel must be closed. Errors inside one
/// packet (``truncated(_:)``, ``unknownType(_:)``, ``malformed(_:)``) consume only that packet;
/// the reader stays usable for the packets behind it.
public enum SFTPWireError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A packet announced `length` bytes (length field value, prefix excluded), more than `limit`.
    case packetTooLarge(Int, limit: Int)
    /// A field ran past the end of its packet; the text names the field and the byte counts.
    case truncated(String)
    /// The packet's type byte is not one this decoder knows (for replies: 2, 101-105, 201).
    case unknownType(UInt8)
    /// The packet is complete but its contents break the protocol; the text says how.
    case malformed(String)

    /// A sentence naming the cause and what to do about it.
    public var description: String {
        switch self {
        case let .packetTooLarge(length, limit):
            return "SFTP packet of \(length) bytes exceeds the reader's limit of \(limit) bytes; "
                + "either the peer is not speaking SFTP (check that the subsystem started and the login "
                + "shell prints nothing) or the limit is too small for the read length in use "
                + "(raise maxPacketLength to at least read length + \(SFTPCodec.dataReplyOverhead))"
        case let .truncated(detail):
            return "truncated SFTP packet: \(detail); the server sent a packet shorter than its fields "
                + "require (server bug or a corrupted stream)"
        case let .unknownType(type):
            return "unknown SFTP packet type \(type); the peer may speak another SFTP version than 3 "
                + "or the stream is out of step"
        case let .malformed(detail):
            return "malformed SFTP packet: \(detail)"
        }
    }
}
