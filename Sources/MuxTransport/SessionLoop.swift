#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLibSSH2
import Foundation
import Logging

// MARK: - The session thread's loop

/// Owns one libssh2 session and all of its channels. Lives on its own thread
/// (libssh2 is not thread-safe) and drives everything non-blocking with poll().
///
/// libssh2's rule for non-blocking mode: once a call returned EAGAIN with a
/// partly sent packet (the OUTBOUND block direction), that same call must be
/// repeated before anything else is sent on the session. The loop honours it
/// with `outboundOwner`: while set, only that participant is stepped.
final class SessionLoop {
    /// Who holds the half-sent packet.
    enum OutboundOwner {
        case setup
        case parallel(SetupOp)
        case channelWrite(ChannelCore)
        case channelRead(ChannelCore)
        case keepalive
    }

    /// The outcome of one attempt at a setup operation.
    enum Attempt { case again, finished }

    /// A multi-step libssh2 operation that touches session-wide state
    /// (channel open, subsystem start, close). These run one at a time.
    final class SetupOp {
        let attempt: (SessionLoop) -> Attempt
        let abort: (TransportError) -> Void
        init(attempt: @escaping (SessionLoop) -> Attempt, abort: @escaping (TransportError) -> Void) {
            self.attempt = attempt
            self.abort = abort
        }
    }

    let session: OpaquePointer
    let socket: Int32
    let inbox: SessionInbox
    let wire: WireCounters
    let endpoint: String
    let logger: Logger
    let keepalive: KeepalivePolicy

    private var setupOps: [SetupOp] = []
    /// Operations with per-channel state only (e.g. starting a subsystem); all step every pass.
    private var parallelOps: [SetupOp] = []
    private(set) var channels: [ChannelCore] = []
    var outboundOwner: OutboundOwner?
    private var running = true
    private var lastKeepaliveSent = ContinuousClock.now
    /// Scratch buffer every channel reads into.
    let readBuffer: UnsafeMutableRawBufferPointer
    /// A session channel opened ahead for the next remote command (see `takeSpareCommandChannel`).
    private var spareCommandChannel: OpaquePointer?
    private var keepsSpareCommandChannel = false
    private var spareOpening = false

    init(session: OpaquePointer, socket: Int32, inbox: SessionInbox, wire: WireCounters,
         endpoint: String, keepalive: KeepalivePolicy, logger: Logger) {
        self.session = session
        self.socket = socket
        self.inbox = inbox
        self.wire = wire
        self.endpoint = endpoint
        self.keepalive = keepalive
        self.logger = logger
        self.readBuffer = .allocate(byteCount: 256 * 1024, alignment: 16)
    }

    deinit { readBuffer.deallocate() }

    // MARK: Participants

    func enqueueSetup(_ op: SetupOp) { setupOps.append(op) }

    func enqueueParallel(_ op: SetupOp) { parallelOps.append(op) }

    func attach(_ channel: ChannelCore) { channels.append(channel) }

    /// True when libssh2 holds a partly sent packet for the last call.
    var outboundBlocked: Bool {
        libssh2_session_block_directions(session) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0
    }

    /// The text of libssh2's last error on this session.
    func lastError() -> (code: Int32, message: String) {
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        let code = libssh2_session_last_error(session, &message, &length, 0)
        return (code, message.map { String(cString: $0) } ?? "libssh2 error \(code)")
    }

    /// Notes a failed libssh2 call. Errors of the connection itself (socket,
    /// MAC, decryption, protocol, misuse) end the whole session, not one channel.
    func noteFailure(_ code: Int, _ what: String) -> TransportError {
        let failure = error(.connectionLost, what)
        switch Int32(code) {
        case LIBSSH2_ERROR_CHANNEL_CLOSED, LIBSSH2_ERROR_CHANNEL_EOF_SENT:
            break
        default:
            if fatalError == nil { fatalError = failure }
        }
        return failure
    }

    func error(_ stage: TransportError.Stage, _ what: String) -> TransportError {
        let last = lastError()
        return TransportError(stage, endpoint: endpoint, "\(what): \(last.message) (libssh2 \(last.code))")
    }

    // MARK: Running

    /// Runs until the session is closed or lost. Never returns early with work pending.
    func run() {
        var failure: TransportError?
        openDrainChannel()
        while running {
            for job in inbox.drain() { job.run(self) }
            if !running { break }
            let before = wire.received
            let progressed = pass()
            if let lost = checkLiveness() { failure = lost; break }
            if let fatal = fatalError { failure = fatal; break }
            if progressed || wire.received != before { continue }
            if !waitForEvents() {
                failure = TransportError(.connectionLost, endpoint: endpoint, "socket closed by peer")
                break
            }
        }
        wire.publish()
        teardown(failure ?? TransportError(.closed, endpoint: endpoint, "session closed"))
    }

    /// Set by a participant that found the session itself broken.
    var fatalError: TransportError?

    /// Asks the loop to finish after the current pass.
    func stop() { running = false }

    /// One round over every participant. Returns whether anything moved.
    private func pass() -> Bool {
        var progressed = false
        if let owner = outboundOwner {
            outboundOwner = nil
            switch owner {
            case .setup: progressed = stepSetup() || progressed
            case .parallel(let op): progressed = step(op) || progressed
            case .channelWrite(let ch): progressed = ch.pumpWrite(self) || progressed
            case .channelRead(let ch): progressed = ch.pumpRead(self) || progressed
            case .keepalive: sendKeepaliveIfDue(force: true)
            }
            if outboundOwner != nil { return progressed }
        }
        progressed = stepSetup() || progressed
        if outboundOwner != nil { return progressed }
        for op in parallelOps {
            progressed = step(op) || progressed
            if outboundOwner != nil { return progressed }
        }
        for ch in channels {
            progressed = ch.pumpWrite(self) || progressed
            if outboundOwner != nil { return progressed }
            progressed = ch.pumpRead(self) || progressed
            if outboundOwner != nil { return progressed }
        }
        if channels.contains(where: { $0.isFinished }) {
            for ch in channels where ch.isFinished { releaseChannel(ch.raw) }
            channels.removeAll { $0.isFinished }
        }
        sendKeepaliveIfDue(force: false)
        wire.publish()
        return progressed
    }

    private func stepSetup() -> Bool {
        var progressed = false
        while let op = setupOps.first {
            let result = op.attempt(self)
            if result == .again {
                if outboundBlocked { outboundOwner = .setup }
                break
            }
            setupOps.removeFirst()
            progressed = true
        }
        return progressed
    }

    /// Steps one parallel op; drops it once finished.
    private func step(_ op: SetupOp) -> Bool {
        guard op.attempt(self) == .finished else {
            if outboundBlocked { outboundOwner = .parallel(op) }
            return false
        }
        parallelOps.removeAll { $0 === op }
        return true
    }

    /// Blocks in poll() until the socket or the inbox has something.
    private func waitForEvents() -> Bool {
        // Data already queued inside libssh2 for a channel needs no socket event.
        for ch in channels where ch.hasQueuedData { return true }
        let directions = libssh2_session_block_directions(session)
        var events = Int16(POLLIN)
        if outboundOwner != nil || directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events |= Int16(POLLOUT) }
        var fds = [pollfd(fd: socket, events: events, revents: 0),
                   pollfd(fd: inbox.wakeReadFD, events: Int16(POLLIN), revents: 0)]
        let timeout = keepalive.isEnabled ? Int32(500) : Int32(5_000)
        let rc = poll(&fds, 2, timeout)
        if rc < 0 && errno != EINTR { return false }
        if fds[0].revents & Int16(POLLNVAL | POLLERR) != 0 { return false }
        if fds[0].revents & Int16(POLLHUP) != 0 && fds[0].revents & Int16(POLLIN) == 0 { return false }
        return true
    }

    /// libssh2 only reads the socket inside channel calls. A session with no
    /// busy channel would leave the server's keepalive replies unread: poll()
    /// would report the socket readable forever (a spinning thread) and the
    /// liveness check would never see them. One idle session channel, read
    /// every pass, keeps incoming packets flowing whatever else is open.
    private func openDrainChannel() {
        enqueueSetup(SetupOp(attempt: { loop in
            guard let raw = muxsync_channel_open(loop.session, 64 << 10, 32768) else {
                if libssh2_session_last_errno(loop.session) == LIBSSH2_ERROR_EAGAIN { return .again }
                loop.logger.debug("no drain channel: \(loop.lastError().message)")
                return .finished
            }
            let drain = ChannelCore(raw: raw, label: "drain")
            drain.onData = { _ in }
            drain.onEnd = { _ in }
            loop.attach(drain)
            return .finished
        }, abort: { _ in }))
    }

    // MARK: A spare channel for commands

    /// From now on, keep one session channel open ahead, so that a remote command
    /// costs one round trip (exec request -> output, status, close) instead of two
    /// (the channel open first). For processes that serve commands (watch, connect).
    /// sshd holds an unused session channel without a timeout (MaxSessions counts it).
    func keepSpareCommandChannel() {
        keepsSpareCommandChannel = true
        refillSpareCommandChannel()
    }

    var hasSpareCommandChannel: Bool { spareCommandChannel != nil }

    /// The spare channel, if one is open; a new one is opened behind it.
    func takeSpareCommandChannel() -> OpaquePointer? {
        guard let spare = spareCommandChannel else { return nil }
        spareCommandChannel = nil
        refillSpareCommandChannel()
        return spare
    }

    private func refillSpareCommandChannel() {
        guard keepsSpareCommandChannel, spareCommandChannel == nil, !spareOpening else { return }
        spareOpening = true
        enqueueSetup(SetupOp(attempt: { loop in
            guard let raw = muxsync_channel_open(loop.session, RemoteCommandChannel.window, RemoteCommandChannel.packet) else {
                if libssh2_session_last_errno(loop.session) == LIBSSH2_ERROR_EAGAIN { return .again }
                loop.spareOpening = false
                loop.keepsSpareCommandChannel = false  // e.g. the server's MaxSessions: commands open their own
                loop.logger.debug("no spare command channel: \(loop.lastError().message)")
                return .finished
            }
            loop.spareOpening = false
            loop.spareCommandChannel = raw
            return .finished
        }, abort: { _ in }))
    }

    /// Closes and frees a libssh2 channel without blocking the loop.
    func releaseChannel(_ raw: OpaquePointer) {
        var closed = false
        enqueueSetup(SetupOp(attempt: { loop in
            if !closed {
                let rc = libssh2_channel_close(raw)
                if rc == LIBSSH2_ERROR_EAGAIN { return .again }
                closed = true
            }
            if libssh2_channel_free(raw) == LIBSSH2_ERROR_EAGAIN { return .again }
            return .finished
        }, abort: { _ in }))
    }

    // MARK: Keepalive and liveness

    private func sendKeepaliveIfDue(force: Bool) {
        guard keepalive.isEnabled else { return }
        let now = ContinuousClock.now
        guard force || now - lastKeepaliveSent >= keepalive.interval else { return }
        guard now - wire.lastReceive >= keepalive.interval || force else { return }
        var next: Int32 = 0
        let rc = libssh2_keepalive_send(session, &next)
        if rc == LIBSSH2_ERROR_EAGAIN {
            if outboundBlocked { outboundOwner = .keepalive }
            return
        }
        lastKeepaliveSent = now
        if rc != 0 { fatalError = error(.connectionLost, "sending keepalive") }
    }

    private func checkLiveness() -> TransportError? {
        guard keepalive.isEnabled else { return nil }
        let silent = ContinuousClock.now - wire.lastReceive
        guard silent > keepalive.deadAfter else { return nil }
        return TransportError(.connectionLost, endpoint: endpoint,
                              "no answer from the server for \(Int(silent.components.seconds)) s",
                              hint: "ServerAliveInterval x ServerAliveCountMax decide this; the network or the server is down")
    }

    // MARK: Teardown

    private func teardown(_ reason: TransportError) {
        running = false
        for job in inbox.close(with: reason) { job.fail(reason) }
        for op in setupOps + parallelOps { op.abort(reason) }
        setupOps.removeAll()
        parallelOps.removeAll()
        for ch in channels { ch.fail(reason) }
        channels.removeAll()
        if reason.stage == .closed {
            libssh2_session_set_blocking(session, 1)
            libssh2_session_set_timeout(session, 2_000)
            _ = libssh2_session_disconnect_ex(session, SSH_DISCONNECT_BY_APPLICATION, "muxsync done", "")
        }
        libssh2_session_free(session)
        Unmanaged.passUnretained(wire).release()  // the retain handed to libssh2 as its abstract pointer
        closeDescriptor(socket)
        logger.debug("session \(endpoint) ended: \(reason.message)")
    }
}

/// When to send keepalives and when to declare the peer gone.
struct KeepalivePolicy: Sendable {
    var interval: Duration
    var countMax: Int
    var isEnabled: Bool { interval > .zero }
    var deadAfter: Duration { interval * (countMax + 1) }
}

@inline(__always)
func closeDescriptor(_ fd: Int32) {
    #if canImport(Glibc)
    _ = Glibc.close(fd)
    #else
    _ = Darwin.close(fd)
    #endif
}
