import CLibSSH2
import Foundation
import Logging

// MARK: - Where and how to connect

/// Everything needed to reach and authenticate to one server, usually
/// resolved from ssh_config (see `SSHTarget.init(resolved:)`).
public struct SSHTarget: Sendable, Equatable {
    public var alias: String
    public var hostName: String
    public var port: Int
    public var user: String
    public var identityFiles: [String]
    public var identitiesOnly: Bool
    public var knownHostsFiles: [String]
    public var unknownHostPolicy: UnknownHostPolicy
    public var connectTimeout: Duration
    public var keepaliveInterval: Duration
    public var keepaliveCountMax: Int
    public var compression: Bool
    /// HostKeyAlias: the name to look up in known_hosts instead of the host name.
    public var knownHostsAlias: String?

    public init(alias: String, hostName: String, port: Int = 22, user: String, identityFiles: [String],
                identitiesOnly: Bool = false, knownHostsFiles: [String], unknownHostPolicy: UnknownHostPolicy = .refuse,
                connectTimeout: Duration = .seconds(15), keepaliveInterval: Duration = .seconds(15),
                keepaliveCountMax: Int = 3, compression: Bool = false) {
        self.alias = alias
        self.hostName = hostName
        self.port = port
        self.user = user
        self.identityFiles = identityFiles
        self.identitiesOnly = identitiesOnly
        self.knownHostsFiles = knownHostsFiles
        self.unknownHostPolicy = unknownHostPolicy
        self.connectTimeout = connectTimeout
        self.keepaliveInterval = keepaliveInterval
        self.keepaliveCountMax = keepaliveCountMax
        self.compression = compression
    }

    /// "user@host:port", the name errors use.
    public var endpoint: String { "\(user)@\(hostName):\(port)" }

    /// What a shared session is found by (its socket is named by a hash of it): the endpoint
    /// and where the server's key is checked. Two aliases of one server whose known_hosts
    /// files (or HostKeyAlias) differ get sessions of their own, so a command never runs over
    /// a session whose host key its own configuration was not asked to accept (stricter
    /// than ssh's ControlMaster, which is found by host, port and user alone).
    public var sharingKey: String {
        endpoint + "\nknown_hosts " + (knownHostsAlias ?? "-") + " " + knownHostsFiles.joined(separator: " ")
    }
}

/// Per-connection choices that do not come from ssh_config.
public struct ConnectOptions: Sendable {
    /// The ssh-agent socket; nil to skip the agent.
    public var agentSocket: String?
    /// Asks for the passphrase of an encrypted key; nil when there is no terminal.
    public var passphrase: PassphraseProvider?

    public init(agentSocket: String? = ProcessInfo.processInfo.environment["SSH_AUTH_SOCK"],
                passphrase: PassphraseProvider? = nil) {
        self.agentSocket = agentSocket
        self.passphrase = passphrase
    }
}

// MARK: - The session

/// One authenticated SSH connection and its thread. Every libssh2 call on it
/// and its channels happens on that thread; this handle is safe to share.
public final class SSHSession: Sendable {
    public let target: SSHTarget
    let inbox: SessionInbox
    private let counters: WireCounters
    /// The remote login shell's dialect, once an exec showed it (see `RemoteShell`).
    let shellDialect = Locked(RemoteShell.posix)
    private let ended = Locked<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    let logger: Logger

    private init(target: SSHTarget, inbox: SessionInbox, counters: WireCounters, logger: Logger) {
        self.target = target
        self.inbox = inbox
        self.counters = counters
        self.logger = logger
    }

    /// "user@host:port".
    public var endpoint: String { target.endpoint }

    /// Bytes that crossed the TCP connection so far.
    public var wireStats: WireStats { counters.stats }

    /// True once the connection is closed or lost.
    public var isClosed: Bool { inbox.isClosed }

    /// Connects, verifies the host key, authenticates, and starts the session thread.
    public static func connect(to target: SSHTarget, options: ConnectOptions = ConnectOptions(),
                               logger: Logger = Logger(label: "muxsync.ssh")) async throws -> SSHSession {
        LibSSH2.initializeOnce()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<SSHSession, Error>) in
            PlainThread.start(name: "muxsync-ssh \(target.alias)", stackSize: 1 << 20) {
                let setup: SessionSetup
                do {
                    setup = try SessionSetup.establish(target: target, options: options, logger: logger)
                } catch {
                    continuation.resume(throwing: error)
                    return
                }
                let inbox = SessionInbox()
                let handle = SSHSession(target: target, inbox: inbox, counters: setup.counters, logger: logger)
                let loop = SessionLoop(session: setup.session, socket: setup.socket, inbox: inbox,
                                       wire: setup.counters, endpoint: target.endpoint,
                                       keepalive: KeepalivePolicy(interval: target.keepaliveInterval,
                                                                  countMax: target.keepaliveCountMax),
                                       logger: logger)
                continuation.resume(returning: handle)
                loop.run()
                withExtendedLifetime(setup.counters) {}
                handle.markEnded()
            }
        }
    }

    /// Closes every channel and the connection; returns once the thread is done.
    public func close() async {
        inbox.submit({ loop in loop.stop() }, onFailure: { _ in })
        await waitUntilEnded()
    }

    /// Returns when the session has ended (closed or lost).
    public func waitUntilEnded() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = ended.withLock { state -> Bool in
                if state.done { return true }
                state.waiters.append(c)
                return false
            }
            if resumeNow { c.resume() }
        }
    }

    private func markEnded() {
        let waiters = ended.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.done = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for w in waiters { w.resume() }
    }

    /// Runs `body` on the session thread and returns its result.
    func onThread<T: Sendable>(_ body: @escaping @Sendable (SessionLoop, @escaping @Sendable (Result<T, TransportError>) -> Void) -> Void) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
            inbox.submit({ loop in
                body(loop) { result in c.resume(with: result.mapError { $0 as Error }) }
            }, onFailure: { error in c.resume(throwing: error) })
        }
    }
}

// MARK: - Set-up (blocking, on the session thread, before the loop starts)

/// TCP connect, handshake, host key check and authentication. Done in
/// libssh2's blocking mode with a timeout, since nothing else shares the
/// session yet; the loop then switches it to non-blocking.
struct SessionSetup {
    let session: OpaquePointer
    let socket: Int32
    let counters: WireCounters

    static func establish(target: SSHTarget, options: ConnectOptions, logger: Logger) throws(TransportError) -> SessionSetup {
        let endpoint = target.endpoint
        let fd: Int32
        do {
            fd = try TCPSocket.connect(host: target.hostName, port: target.port, timeout: target.connectTimeout)
        } catch var error {
            error.endpoint = endpoint
            throw error
        }
        let counters = WireCounters(socket: fd)
        guard let session = muxsync_session_init(Unmanaged.passRetained(counters).toOpaque()) else {
            closeDescriptor(fd)
            throw TransportError(.handshake, endpoint: endpoint, "cannot allocate a libssh2 session")
        }
        var ok = false
        defer {
            if !ok {
                libssh2_session_free(session)
                Unmanaged.passUnretained(counters).release()
                closeDescriptor(fd)
            }
        }
        counters.install(on: session)
        if target.compression { libssh2_session_flag(session, LIBSSH2_FLAG_COMPRESS, 1) }
        libssh2_session_set_blocking(session, 1)
        let timeoutMs = target.connectTimeout.components.seconds * 1000
        libssh2_session_set_timeout(session, Int(max(timeoutMs, 1000)))

        if libssh2_session_handshake(session, libssh2_socket_t(fd)) != 0 {
            let last = LibSSH2.lastError(session)
            // A closed, reset or silent socket says nothing about the server's ciphers.
            let socketLost = [LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_SOCKET_RECV, LIBSSH2_ERROR_SOCKET_SEND,
                              LIBSSH2_ERROR_TIMEOUT].contains(libssh2_session_last_errno(session))
            throw TransportError(.handshake, endpoint: endpoint, last,
                                 hint: socketLost
                                     ? "the connection was closed or went silent during the SSH handshake: the server may be "
                                         + "refusing connections for now (MaxStartups, a firewall, a proxy) or restarting; "
                                         + "try again, or see what `ssh -v` says"
                                     : "is this an SSH server? libssh2 1.10 needs aes-ctr/cbc ciphers and ed25519/ecdsa/rsa host keys")
        }
        logger.debug("handshake with \(endpoint) done")

        try HostKeyVerifier(hostName: target.knownHostsAlias ?? target.hostName,
                            port: target.knownHostsAlias == nil ? target.port : 22, knownHostsFiles: target.knownHostsFiles,
                            policy: target.unknownHostPolicy)
            .verify(session: session, endpoint: endpoint, logger: logger)

        try Authenticator(user: target.user, identityFiles: target.identityFiles, identitiesOnly: target.identitiesOnly,
                          agentSocket: options.agentSocket, passphrase: options.passphrase)
            .authenticate(session: session, endpoint: endpoint, logger: logger)
        logger.info("connected to \(endpoint)")

        if target.keepaliveInterval > .zero {
            libssh2_keepalive_config(session, 1, UInt32(max(1, target.keepaliveInterval.components.seconds)))
        }
        libssh2_session_set_timeout(session, 0)
        libssh2_session_set_blocking(session, 0)
        ok = true
        return SessionSetup(session: session, socket: fd, counters: counters)
    }
}

// MARK: - Library-wide

enum LibSSH2 {
    private static let initialized: Bool = {
        // Before libssh2 initialises libcrypto: no exit handler that frees what a session
        // thread may still use while the process exits (see the shim).
        muxsync_crypto_init_without_exit_handler()
        return libssh2_init(0) == 0
    }()

    static func initializeOnce() { _ = initialized }

    static func lastError(_ session: OpaquePointer) -> String {
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        let code = libssh2_session_last_error(session, &message, &length, 0)
        return "\(message.map { String(cString: $0) } ?? "unknown error") (libssh2 \(code))"
    }
}
