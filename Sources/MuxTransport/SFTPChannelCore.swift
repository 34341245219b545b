import CLibSSH2
import MuxSFTPWire

// MARK: - One SFTP session on one channel, as the session thread sees it

/// Frames requests into the channel's outbox and matches replies to their
/// requests by id. Any number of requests may be in flight; sftp-server answers
/// them in order. Session-thread only.
final class SFTPChannelCore {
    typealias Completion = (Result<SFTPReply, TransportError>) -> Void

    let channel: ChannelCore
    private var reader = SFTPPacketReader(maxPacketLength: (1 << 20) + 1024)
    private var pending: [UInt32: Completion] = [:]
    private var nextID: UInt32 = 1
    private var onVersion: ((Result<[SFTPExtensionPair], TransportError>) -> Void)?
    private(set) var failure: TransportError?

    init(channel: ChannelCore) {
        self.channel = channel
        channel.onData = { [weak self] bytes in self?.receive(bytes) }
        channel.onEnd = { [weak self] error in
            self?.failAll(error ?? TransportError(.sftp, "the server closed the SFTP channel"))
        }
    }

    var inFlight: Int { pending.count }

    /// Sends INIT; `completion` gets the server's extensions from VERSION.
    func start(_ completion: @escaping (Result<[SFTPExtensionPair], TransportError>) -> Void) {
        onVersion = completion
        channel.enqueue(SFTPCodec.encodeInit(version: 3))
    }

    // MARK: Requests

    func send(_ request: SFTPRequest, _ completion: @escaping Completion) {
        if let failure { completion(.failure(failure)); return }
        let id = takeID()
        SFTPCodec.encode(request, id: id, into: &channel.outbox)
        pending[id] = completion
    }

    /// A WRITE whose data is copied once, straight into the outbox.
    func sendWrite(handle: [UInt8], offset: UInt64, data: UnsafeRawBufferPointer, _ completion: @escaping Completion) {
        if let failure { completion(.failure(failure)); return }
        let id = takeID()
        SFTPCodec.encodeWrite(id: id, handle: handle, offset: offset, data: data, into: &channel.outbox)
        pending[id] = completion
    }

    private func takeID() -> UInt32 {
        defer { nextID = nextID == UInt32.max ? 1 : nextID + 1 }
        return nextID
    }

    // MARK: Replies

    private func receive(_ bytes: UnsafeRawBufferPointer) {
        reader.append(bytes)
        do {
            while let reply = try reader.next() { dispatch(reply) }
        } catch {
            fail(TransportError(.sftp, "the server sent a malformed SFTP packet: \(error)"))
        }
    }

    private func dispatch(_ reply: SFTPReply) {
        guard let id = reply.requestID else {
            if case .version(let version, let extensions) = reply, let onVersion {
                self.onVersion = nil
                if version < 3 {
                    onVersion(.failure(TransportError(.sftp, "the server speaks SFTP version \(version); muxsync needs 3")))
                } else {
                    onVersion(.success(extensions))
                }
            }
            return
        }
        guard let completion = pending.removeValue(forKey: id) else { return }
        completion(.success(reply))
    }

    // MARK: Failure

    /// Fails every request and ends the channel.
    func fail(_ error: TransportError) {
        channel.finish(error)
        failAll(error)
    }

    private func failAll(_ error: TransportError) {
        if failure == nil { failure = error }
        if let onVersion {
            self.onVersion = nil
            onVersion(.failure(error))
        }
        let waiting = pending
        pending.removeAll()
        for (_, completion) in waiting.sorted(by: { $0.key < $1.key }) { completion(.failure(error)) }
    }
}
