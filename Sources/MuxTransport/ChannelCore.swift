import CLibSSH2

// MARK: - One channel, as the session thread sees it

/// A libssh2 channel with an outgoing byte queue and an incoming data sink.
/// Session-thread only. Writes never block the loop: bytes wait in `outbox`
/// until libssh2 and the peer's window take them.
final class ChannelCore {
    let raw: OpaquePointer
    let label: String
    /// Bytes not yet taken by libssh2; `outboxHead` is the first unsent byte.
    var outbox: [UInt8] = []
    private var outboxHead = 0
    /// Receives every chunk of stdout data as it arrives.
    var onData: (UnsafeRawBufferPointer) -> Void = { _ in }
    /// Receives stderr data (exec channels).
    var onStderr: ((UnsafeRawBufferPointer) -> Void)?
    /// Called once when the channel ends: nil for a clean EOF, else the error.
    var onEnd: (TransportError?) -> Void = { _ in }
    /// Called once when the remote sends EOF, instead of ending the channel
    /// (exec channels wait for CLOSE to learn the exit status). The hook's
    /// owner calls `finish` later.
    var onRemoteEOF: (() -> Void)?
    private(set) var isFinished = false
    private(set) var sawEOF = false
    private var reportedEOF = false

    init(raw: OpaquePointer, label: String) {
        self.raw = raw
        self.label = label
    }

    var pendingOutput: Int { outbox.count - outboxHead }

    /// Appends bytes for sending (the next pass writes them).
    func enqueue(_ bytes: [UInt8]) { outbox.append(contentsOf: bytes) }

    /// Data already in libssh2's queue for this channel (no socket event will announce it).
    var hasQueuedData: Bool {
        // > 0 only: the call answers negative error codes too (then nothing is queued).
        !isFinished && (libssh2_poll_channel_read(raw, 0) > 0
                        || (onStderr != nil && libssh2_poll_channel_read(raw, 1) > 0))
    }

    // MARK: Pumping (called by the loop)

    /// Writes as much of the outbox as libssh2 takes. Returns whether bytes moved.
    func pumpWrite(_ loop: SessionLoop) -> Bool {
        guard !isFinished else { return false }
        var progressed = false
        while outboxHead < outbox.count {
            let n = outbox.withUnsafeBytes { buf -> Int in
                let base = buf.baseAddress!.advanced(by: outboxHead).assumingMemoryBound(to: CChar.self)
                return libssh2_channel_write_ex(raw, 0, base, min(outbox.count - outboxHead, 1 << 20))
            }
            if n == Int(LIBSSH2_ERROR_EAGAIN) {
                if loop.outboundBlocked { loop.outboundOwner = .channelWrite(self) }
                break
            }
            if n < 0 {
                finish(loop.noteFailure(n, "writing to channel \(label)"))
                return true
            }
            if n == 0 { break }  // the peer's window is full; a window adjust will come
            outboxHead += n
            progressed = true
        }
        if outboxHead == outbox.count {
            outbox.removeAll(keepingCapacity: outbox.capacity <= 4 << 20)
            outboxHead = 0
        } else if outboxHead > 1 << 20 && outboxHead * 2 > outbox.count {
            outbox.removeFirst(outboxHead)
            outboxHead = 0
        }
        return progressed
    }

    /// Reads what has arrived and hands it on. Returns whether bytes moved.
    func pumpRead(_ loop: SessionLoop) -> Bool {
        guard !isFinished else { return false }
        var progressed = false
        var budget = 8 << 20  // be fair to the other channels
        while budget > 0 {
            let buffer = loop.readBuffer
            let n = libssh2_channel_read_ex(raw, 0, buffer.baseAddress!.assumingMemoryBound(to: CChar.self), buffer.count)
            if n == Int(LIBSSH2_ERROR_EAGAIN) {
                if loop.outboundBlocked { loop.outboundOwner = .channelRead(self); return progressed }
                break
            }
            if n < 0 {
                finish(loop.noteFailure(n, "reading from channel \(label)"))
                return true
            }
            if n == 0 {
                if libssh2_channel_eof(raw) != 0 { sawEOF = true }
                break
            }
            progressed = true
            budget -= n
            onData(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            if isFinished { return true }
        }
        if let onStderr {
            while true {
                let buffer = loop.readBuffer
                let n = libssh2_channel_read_ex(raw, Int32(SSH_EXTENDED_DATA_STDERR),
                                                buffer.baseAddress!.assumingMemoryBound(to: CChar.self), buffer.count)
                if n == Int(LIBSSH2_ERROR_EAGAIN) {
                    if loop.outboundBlocked { loop.outboundOwner = .channelRead(self) }
                    break
                }
                if n <= 0 { break }
                progressed = true
                onStderr(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            }
        }
        if sawEOF && !isFinished && !reportedEOF {
            reportedEOF = true
            progressed = true
            if let onRemoteEOF { onRemoteEOF() } else { finish(nil) }
        }
        return progressed
    }

    // MARK: Ending

    /// Ends the channel locally and tells the owner. The loop frees it.
    func finish(_ error: TransportError?) {
        guard !isFinished else { return }
        isFinished = true
        onEnd(error)
    }

    func fail(_ error: TransportError) { finish(error) }
}
