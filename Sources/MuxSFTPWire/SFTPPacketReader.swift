// MARK: - SFTPPacketFramer

/// Splits a byte stream that arrives in arbitrary pieces into complete SFTP packets.
///
/// Cost model: appended bytes are copied once into an internal buffer; packets are handed out
/// as views into it (no copy); consumed bytes are skipped with a read cursor and the buffer is
/// compacted only when the consumed prefix is at least as large as what remains, so feeding
/// one byte at a time or one buffer holding thousands of packets is linear overall.
///
/// Memory: a packet is never allocated up front. A length prefix above `maxPacketLength`
/// fails immediately, before its body is buffered. The buffer holds what the caller appended
/// and not yet consumed; a drained buffer keeps its capacity only up to a few packets' worth.
///
/// Errors: a length prefix of 0 or above the limit puts the framer out of step with the stream;
/// that error is sticky (every later call throws it, later appends are dropped) and the
/// channel must be closed.
/// An error thrown by the `body` closure of ``nextFrame(_:)`` consumes only that packet.
public struct SFTPPacketFramer: Sendable {
    /// Largest accepted value of a packet's length field (the 4-byte prefix not counted).
    public let maxPacketLength: Int
    private var storage: [UInt8] = []
    private var readIndex = 0
    private var failure: SFTPWireError?

    /// Creates a framer accepting packets up to `maxPacketLength` bytes (length field value),
    /// clamped to 1 ... `UInt32.max` (what a length field can express).
    public init(maxPacketLength: Int = 1 << 20) {
        self.maxPacketLength = Swift.min(Swift.max(1, maxPacketLength), Int(UInt32.max))
    }

    /// Bytes appended and not yet handed out as packets.
    public var bufferedByteCount: Int { storage.count - readIndex }

    /// The sticky framing error, if the stream went out of step.
    public var framingError: SFTPWireError? { failure }

    // MARK: Appending

    /// Appends bytes received from the channel.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty, failure == nil else { return }
        compactBeforeAppend()
        storage.append(contentsOf: bytes)
    }

    /// Appends bytes received from the channel.
    public mutating func append(_ bytes: [UInt8]) {
        guard !bytes.isEmpty, failure == nil else { return }
        compactBeforeAppend()
        storage.append(contentsOf: bytes)
    }

    /// Appends bytes received from the channel.
    public mutating func append(_ bytes: ArraySlice<UInt8>) {
        guard !bytes.isEmpty, failure == nil else { return }
        compactBeforeAppend()
        storage.append(contentsOf: bytes)
    }

    /// Drops the consumed prefix when that moves no more bytes than were consumed since the
    /// last compaction (amortised O(1) per byte).
    private mutating func compactBeforeAppend() {
        guard readIndex > 0 else { return }
        let live = storage.count - readIndex
        if live == 0 {
            resetStorage()
        } else if readIndex >= live {
            storage.removeSubrange(0 ..< readIndex)
            readIndex = 0
        }
    }

    /// Empties the buffer, keeping its allocation unless it grew far beyond a packet's size.
    private mutating func resetStorage() {
        let keep = storage.capacity <= Swift.max(4 * maxPacketLength, 1 << 16)
        storage.removeAll(keepingCapacity: keep)
        readIndex = 0
    }

    // MARK: Packets

    /// Calls `body` with the next complete packet (type byte first, length prefix removed)
    /// and returns its result, or returns nil when more bytes are needed.
    ///
    /// The view passed to `body` is valid only during the call.
    public mutating func nextFrame<Result>(
        _ body: (UnsafeRawBufferPointer) throws(SFTPWireError) -> Result
    ) throws(SFTPWireError) -> Result? {
        if let failure { throw failure }
        let available = storage.count - readIndex
        guard available >= 4 else { return nil }
        let start = readIndex
        let announced = storage.withUnsafeBytes { raw in
            UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: start, as: UInt32.self))
        }
        if announced == 0 {
            let error = SFTPWireError.malformed(
                "packet length 0 (every packet has at least a type byte); the stream is out of step")
            failure = error
            throw error
        }
        if UInt64(announced) > UInt64(maxPacketLength) {
            let error = SFTPWireError.packetTooLarge(Int(announced), limit: maxPacketLength)
            failure = error
            throw error
        }
        let length = Int(announced)
        guard available - 4 >= length else { return nil }
        // Consume before decoding: a packet that fails to decode is skipped, not retried.
        readIndex = start + 4 + length
        let outcome: Swift.Result<Result, SFTPWireError> = storage.withUnsafeBytes { raw in
            let packet = UnsafeRawBufferPointer(rebasing: raw[(start + 4) ..< (start + 4 + length)])
            do throws(SFTPWireError) {
                return .success(try body(packet))
            } catch {
                return .failure(error)
            }
        }
        if readIndex == storage.count { resetStorage() }
        return try outcome.get()
    }

    /// The next complete packet as an array (type byte first), or nil when more bytes are needed.
    public mutating func nextPacket() throws(SFTPWireError) -> [UInt8]? {
        try nextFrame { (packet) throws(SFTPWireError) -> [UInt8] in Array(packet) }
    }
}

// MARK: - SFTPPacketReader

/// Turns the bytes the SFTP channel delivers, in whatever pieces they arrive, into
/// ``SFTPReply`` values. See ``SFTPPacketFramer`` for the cost model and error behaviour.
///
/// ```swift
/// var reader = SFTPPacketReader(maxPacketLength: 256 * 1024 + 1024)
/// reader.append(chunk)
/// while let reply = try reader.next() { handle(reply) }
/// ```
public struct SFTPPacketReader: Sendable {
    private var framer: SFTPPacketFramer

    /// Creates a reader that rejects packets whose length field exceeds `maxPacketLength`.
    /// Size it at least `readLength + SFTPCodec.dataReplyOverhead` for the READ length in use.
    public init(maxPacketLength: Int = 1 << 20) {
        framer = SFTPPacketFramer(maxPacketLength: maxPacketLength)
    }

    /// The limit this reader enforces.
    public var maxPacketLength: Int { framer.maxPacketLength }

    /// Bytes appended and not yet returned as replies.
    public var bufferedByteCount: Int { framer.bufferedByteCount }

    /// Appends bytes received from the channel.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) { framer.append(bytes) }
    /// Appends bytes received from the channel.
    public mutating func append(_ bytes: [UInt8]) { framer.append(bytes) }
    /// Appends bytes received from the channel.
    public mutating func append(_ bytes: ArraySlice<UInt8>) { framer.append(bytes) }

    /// The next reply, or nil when more bytes are needed.
    ///
    /// Throws ``SFTPWireError``: framing errors are sticky (close the channel); an undecodable
    /// packet is skipped and the next call continues with the packet after it.
    public mutating func next() throws(SFTPWireError) -> SFTPReply? {
        try framer.nextFrame { (packet) throws(SFTPWireError) -> SFTPReply in
            try SFTPReply.decode(packet: packet)
        }
    }
}
