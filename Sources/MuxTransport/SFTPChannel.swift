import CLibSSH2
import Foundation
import MuxSFTPWire

// MARK: - A handle of an open remote file or directory

/// An SFTP handle. It is valid only on the channel that opened it.
public struct SFTPHandle: Sendable {
    public let bytes: [UInt8]
    public let path: String
    public let channel: SFTPChannel
}

// MARK: - One SFTP channel

/// One SFTP session (one sftp-server process on the remote) on one channel of
/// the shared SSH session. Requests are pipelined: any number may be awaited
/// at once and they travel back to back.
public final class SFTPChannel: Sendable {
    public let session: SSHSession
    public let index: Int
    /// Extensions the server announced (name -> version string).
    public let extensions: [String: String]
    /// Sizes from limits@openssh.com, or the 32 KiB fallback.
    public let limits: SFTPLimits
    let core: ThreadConfined<SFTPChannelCore>

    init(session: SSHSession, index: Int, core: ThreadConfined<SFTPChannelCore>,
         extensions: [String: String], limits: SFTPLimits) {
        self.session = session
        self.index = index
        self.core = core
        self.extensions = extensions
        self.limits = limits
    }

    deinit {
        let core = self.core
        session.inbox.submit({ _ in core.value.channel.finish(nil) }, onFailure: { _ in })
    }

    /// Our receive window per channel. Large enough for 16 READs of 255 KiB in
    /// flight; not larger, since libssh2 keeps early-arriving packets of every
    /// channel in one list that each read scans.
    static let receiveWindow: UInt32 = 6 << 20

    public func supports(_ extensionName: String) -> Bool { extensions[extensionName] != nil }

    // MARK: Opening

    /// Opens a channel, starts the "sftp" subsystem, exchanges INIT/VERSION and
    /// asks for the server's limits.
    ///
    /// Three round trips, not four: the limits@openssh.com request goes out with
    /// INIT, without waiting for VERSION (sftp-server handles requests in order,
    /// so INIT is done when the request arrives). A server without the extension
    /// answers it with a status, and the 32 KiB fallback sizes apply. INIT is
    /// queued as soon as the subsystem request is on the wire, but sshd opens a
    /// session channel with a zero window and widens it only once the subsystem
    /// runs, so in practice INIT leaves with the subsystem's reply.
    static func open(on session: SSHSession, index: Int) async throws -> SFTPChannel {
        let label = "sftp#\(index)"
        let (core, extensions, limitsReply): (ThreadConfined<SFTPChannelCore>, [SFTPExtensionPair], SFTPReply?) =
            try await session.onThread { loop, done in
                // Opening uses session-wide libssh2 state (one at a time); starting
                // the subsystem is per channel, so several channels start at once.
                loop.enqueueSetup(SessionLoop.SetupOp(attempt: { loop in
                    guard let channel = muxsync_channel_open(loop.session, SFTPChannel.receiveWindow, 32768) else {
                        if libssh2_session_last_errno(loop.session) == LIBSSH2_ERROR_EAGAIN { return .again }
                        done(.failure(loop.error(.channel, "opening channel \(label)")))
                        return .finished
                    }
                    let startup = Startup(label: label) { done($0) }
                    loop.enqueueParallel(SessionLoop.SetupOp(attempt: { loop in startup.step(channel, loop) },
                                                             abort: { error in startup.finish(.failure(error)) }))
                    return .finished
                }, abort: { error in done(.failure(error)) }))
            }
        var table: [String: String] = [:]
        for pair in extensions { table[pair.name] = pair.data }
        var limits = SFTPLimits.fallback
        if table[SFTPExtensionName.limits] != nil, case .extendedReply(_, let payload) = limitsReply,
           let decoded = try? SFTPLimits.decode(payload) {
            limits = decoded
        }
        return SFTPChannel(session: session, index: index, core: core, extensions: table, limits: limits)
    }

    /// The subsystem start of one channel and the pipelined INIT + limits behind
    /// it, as the session thread steps them. Reports once, when all three are answered.
    private final class Startup {
        typealias Outcome = (ThreadConfined<SFTPChannelCore>, [SFTPExtensionPair], SFTPReply?)
        let label: String
        private let report: (Result<Outcome, TransportError>) -> Void
        private var sftp: SFTPChannelCore?
        private var subsystemStarted = false
        private var version: [SFTPExtensionPair]?
        private var limitsReply: SFTPReply??
        private var reported = false

        init(label: String, report: @escaping (Result<Outcome, TransportError>) -> Void) {
            self.label = label
            self.report = report
        }

        func step(_ channel: OpaquePointer, _ loop: SessionLoop) -> SessionLoop.Attempt {
            let rc = libssh2_channel_process_startup(channel, "subsystem", 9, "sftp", 4)
            if rc == LIBSSH2_ERROR_EAGAIN {
                // The request is on the wire once libssh2 no longer waits to send:
                // queue INIT and the limits request behind it.
                if sftp == nil && !loop.outboundBlocked { speak(channel, loop) }
                
                return .again
            }
            if rc != 0 {
                let error = loop.error(.sftp, "starting the sftp subsystem")
                let failure = TransportError(.sftp, endpoint: loop.endpoint, error.message,
                                             hint: "the server needs `Subsystem sftp ...` in sshd_config (the default on Debian/Ubuntu)")
                if let sftp { sftp.channel.finish(failure) } else { loop.releaseChannel(channel) }
                finish(.failure(failure))
                return .finished
            }
            if sftp == nil { speak(channel, loop) }
            subsystemStarted = true
            reportIfDone()
            return .finished
        }

        private func speak(_ channel: OpaquePointer, _ loop: SessionLoop) {
            let channelCore = ChannelCore(raw: channel, label: label)
            let sftp = SFTPChannelCore(channel: channelCore)
            self.sftp = sftp
            loop.attach(channelCore)
            sftp.start { [self] result in
                switch result {
                case .success(let extensions):
                    version = extensions
                    reportIfDone()
                case .failure(let error): finish(.failure(error))
                }
            }
            sftp.send(.limits) { [self] result in
                switch result {
                case .success(let reply):
                    limitsReply = .some(reply)
                    reportIfDone()
                case .failure(let error): finish(.failure(error))
                }
            }
        }

        private func reportIfDone() {
            guard subsystemStarted, let version, let limitsReply, let sftp else { return }
            finish(.success((ThreadConfined(sftp), version, limitsReply)))
        }

        func finish(_ result: Result<Outcome, TransportError>) {
            guard !reported else { return }
            reported = true
            report(result)
        }
    }

    // MARK: Raw requests

    /// Sends one request and waits for its reply.
    public func send(_ request: SFTPRequest) async throws -> SFTPReply {
        try await Self.send(request, on: core, session: session)
    }

    private static func send(_ request: SFTPRequest, on core: ThreadConfined<SFTPChannelCore>,
                             session: SSHSession) async throws -> SFTPReply {
        try await session.onThread { _, done in
            core.value.send(request) { done($0) }
        }
    }

    /// Sends several requests back to back, in this order, in one hop to the
    /// session thread, and waits for all replies (in request order). The
    /// server executes them in order, so e.g. WRITEs, FSETSTAT and CLOSE of a
    /// small file cost one round trip together.
    public func sendBatch(_ requests: [SFTPRequest]) async throws -> [SFTPReply] {
        guard !requests.isEmpty else { return [] }
        let core = self.core
        return try await session.onThread { _, done in
            var replies = [SFTPReply?](repeating: nil, count: requests.count)
            var remaining = requests.count
            var finished = false
            for (index, request) in requests.enumerated() {
                core.value.send(request) { result in
                    guard !finished else { return }
                    switch result {
                    case .success(let reply):
                        replies[index] = reply
                        remaining -= 1
                        if remaining == 0 {
                            finished = true
                            done(.success(replies.compactMap { $0 }))
                        }
                    case .failure(let error):
                        finished = true
                        done(.failure(error))
                    }
                }
            }
        }
    }

    /// Sends a WRITE of `data` at `offset`, copying the bytes once.
    public func write(_ handle: SFTPHandle, offset: UInt64, data: [UInt8]) async throws {
        let core = self.core
        let reply: SFTPReply = try await session.onThread { _, done in
            data.withUnsafeBytes { bytes in
                core.value.sendWrite(handle: handle.bytes, offset: offset, data: bytes) { done($0) }
            }
        }
        try Self.expectOK(reply, "write", handle.path)
    }

    /// Requests of this channel not yet answered.
    public func inFlight() async throws -> Int {
        let core = self.core
        return try await session.onThread { _, done in done(.success(core.value.inFlight)) }
    }

    // MARK: Reply checking

    static func expectOK(_ reply: SFTPReply, _ operation: String, _ path: String?) throws {
        guard case .status(_, let status) = reply else {
            throw TransportError(.sftp, "unexpected reply to \(operation): \(reply.packetType)")
        }
        guard status.code == .ok else { throw SFTPError(operation: operation, path: path, status: status) }
    }

    static func failure(_ reply: SFTPReply, _ operation: String, _ path: String?) -> Error {
        if case .status(_, let status) = reply { return SFTPError(operation: operation, path: path, status: status) }
        return TransportError(.sftp, "unexpected reply to \(operation): \(reply.packetType)")
    }
}
