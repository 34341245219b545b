// MARK: - SFTPLimits

/// The answer to limits@openssh.com: four uint64 in an EXTENDED_REPLY.
///
/// OpenSSH 9.2 sftp-server answers 262144 / 261120 / 261120 / (RLIMIT_NOFILE - 5).
/// A zero field means the server states no limit; the chunk helpers then fall back to the
/// conservative values of ``fallback``, which every v3 server accepts.
public struct SFTPLimits: Sendable, Equatable, Hashable {
    /// Largest packet the server accepts, counted without the 4-byte length prefix.
    public var maxPacketLength: UInt64
    /// Largest READ length the server honours (it answers longer READs with less data).
    public var maxReadLength: UInt64
    /// Largest WRITE data length the server accepts.
    public var maxWriteLength: UInt64
    /// Most handles open at once; 0 = no limit stated.
    public var maxOpenHandles: UInt64

    public init(maxPacketLength: UInt64, maxReadLength: UInt64, maxWriteLength: UInt64, maxOpenHandles: UInt64) {
        self.maxPacketLength = maxPacketLength
        self.maxReadLength = maxReadLength
        self.maxWriteLength = maxWriteLength
        self.maxOpenHandles = maxOpenHandles
    }

    /// What to assume when the server lacks limits@openssh.com: 34000-byte packets and
    /// 32 KiB reads and writes (the draft's minimum), no handle limit stated.
    public static let fallback = SFTPLimits(
        maxPacketLength: 34000, maxReadLength: 32768, maxWriteLength: 32768, maxOpenHandles: 0)

    // MARK: Wire

    /// Decodes the EXTENDED_REPLY payload (after the request id). Extra trailing bytes are ignored.
    public static func decode(_ payload: [UInt8]) throws(SFTPWireError) -> SFTPLimits {
        try SFTPByteCursor.parse(payload) { (cursor) throws(SFTPWireError) in
            SFTPLimits(
                maxPacketLength: try cursor.readUInt64("limits max-packet-length"),
                maxReadLength: try cursor.readUInt64("limits max-read-length"),
                maxWriteLength: try cursor.readUInt64("limits max-write-length"),
                maxOpenHandles: try cursor.readUInt64("limits max-open-handles"))
        }
    }

    /// The EXTENDED_REPLY payload (for fakes and tests).
    public var encoded: [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(32)
        for value in [maxPacketLength, maxReadLength, maxWriteLength, maxOpenHandles] {
            SFTPWire.appendUInt64(value, to: &buffer)
        }
        return buffer
    }

    // MARK: Chunk sizes

    private var packetLimit: UInt64 { maxPacketLength == 0 ? Self.fallback.maxPacketLength : maxPacketLength }

    /// The READ length to ask for: the server's read limit, shrunk so the DATA reply fits its
    /// packet limit. At least 1, at most `UInt32.max`.
    public var readChunkLength: UInt32 {
        let readLimit = maxReadLength == 0 ? Self.fallback.maxReadLength : maxReadLength
        let overhead = UInt64(SFTPCodec.dataReplyOverhead - 4)
        let byPacket = packetLimit > overhead ? packetLimit - overhead : 1
        return UInt32(clamping: Swift.max(1, Swift.min(readLimit, byPacket)))
    }

    /// The largest WRITE data length for a handle of `handleLength` bytes: the server's write
    /// limit, shrunk so the whole WRITE packet fits its packet limit. At least 1.
    public func writeChunkLength(handleLength: Int) -> Int {
        let writeLimit = maxWriteLength == 0 ? Self.fallback.maxWriteLength : maxWriteLength
        let overhead = UInt64(SFTPCodec.writeOverhead(handleLength: Swift.max(0, handleLength)) - 4)
        let byPacket = packetLimit > overhead ? packetLimit - overhead : 1
        let chosen = Swift.max(1, Swift.min(writeLimit, byPacket, UInt64(UInt32.max)))
        return Int(chosen)
    }

    /// The reader limit that admits a DATA reply of ``readChunkLength`` bytes.
    public var replyPacketLimit: Int {
        Int(readChunkLength) + SFTPCodec.dataReplyOverhead - 4
    }
}
