import Foundation
import Logging
import MuxTransport

// MARK: - Serving push, pull, exec and status over a held session

/// What a process holding a session (watch, `muxsync connect`) does for the
/// commands that come through its control socket: they run here, over this
/// session's channels, with no TCP connect, key exchange or authentication.
public final class SharedSessionHost: Sendable {
    public let role: String
    public let localRoot: String?
    public let remoteRoot: String?
    let client: @Sendable () -> SFTPClient?
    let watch: WatchEngine?
    let status: WatchStatus?
    let logger: Logger
    let startedAt = Date().timeIntervalSince1970
    /// Called on a `release` request when `role` is ``ControlRole/keeper``.
    let onRelease: (@Sendable () -> Void)?

    public init(role: String, localRoot: String?, remoteRoot: String?, watch: WatchEngine?, status: WatchStatus?,
                logger: Logger, onRelease: (@Sendable () -> Void)? = nil, client: @escaping @Sendable () -> SFTPClient?) {
        self.role = role
        self.onRelease = onRelease
        self.localRoot = localRoot
        self.remoteRoot = remoteRoot
        self.watch = watch
        self.status = status
        self.logger = logger
        self.client = client
    }

    /// The handler for `ControlServer`.
    public func handle(_ request: ControlRequest, _ connection: ControlConnection) async {
        if role == ControlRole.keeper, [.exec, .push, .pull].contains(request.operation),
           let build = request.build, build != MuxsyncVersion.buildID, let onRelease {
            // muxsync was rebuilt or upgraded since this keeper started: the client starts its own.
            onRelease()
            var reply = ControlReply.error("this background session runs another muxsync build (\(MuxsyncVersion.buildID)); it stops")
            reply.code = ControlReply.keeperOutdated
            connection.send(reply)
            return
        }
        if request.operation == .release {
            guard role == ControlRole.keeper, let onRelease else {
                connection.send(ControlReply.error("this session is held by `muxsync \(role)` (pid \(getpid())), which does not give it up; stop it first"))
                return
            }
            onRelease()
            connection.send(ControlReply.exit(0))
            return
        }
        guard let client = client() else {
            connection.send(ControlReply.error("the shared session is reconnecting; try again, or use --no-shared"))
            return
        }
        do {
            switch request.operation {
            case .status:
                connection.send(ControlReply(kind: .status, status: snapshot(client)))
                connection.send(ControlReply.exit(0))
            case .exec:
                try await exec(request, client.session, connection)
            case .push, .pull:
                // Ctrl-C in the client cancels the job: files in flight finish or are removed,
                // nothing half-written is renamed into place, and the client hears "interrupted".
                let job = Task {
                    if request.operation == .push {
                        try await push(request, client, connection)
                    } else {
                        try await pull(request, client, connection)
                    }
                }
                connection.onInterrupt { job.cancel() }
                do {
                    try await job.value
                } catch is CancellationError {
                    connection.send(ControlReply.line("interrupted"))
                    connection.send(ControlReply.exit(130))
                }
            case .interrupt, .release:
                connection.send(ControlReply.exit(0))
            }
        } catch {
            var reply = ControlReply.error("\(error)")
            if client.session.isClosed { reply.code = ControlReply.sessionLost }
            connection.send(reply)
        }
    }

    public func snapshot(_ client: SFTPClient?) -> SharedSessionStatus {
        let live = status?.snapshot
        return SharedSessionStatus(endpoint: client?.session.endpoint ?? "?", pid: getpid(), role: role,
                                   localRoot: localRoot, remoteRoot: remoteRoot,
                                   connection: live?.connection ?? (client?.session.isClosed == false ? "connected" : "closed"),
                                   queue: live?.queue ?? 0,
                                   lastLatencyMilliseconds: live?.lastLatency.map { Int(($0 * 1000).rounded()) },
                                   startedAt: startedAt, alias: client?.session.target.alias)
    }

    // MARK: exec

    private func exec(_ request: ControlRequest, _ session: SSHSession, _ connection: ControlConnection) async throws {
        if request.sync {
            guard let watch else {
                connection.send(ControlReply.error("--sync needs a running `muxsync watch`; this session is held by `muxsync \(role)`"))
                return
            }
            try await watch.sync()
        }
        let run = RemoteRun(session: session, arguments: request.arguments, directory: request.directory ?? remoteRoot)
        // Ctrl-C in the client: INT, then TERM, then KILL to the remote command.
        connection.onInterrupt { Task { await run.interrupt() } }
        let exit = try await run.run(stdout: { connection.send(ControlReply.output(.stdout, $0)) },
                                     stderr: { connection.send(ControlReply.output(.stderr, $0)) })
        if let signal = exit.signal { connection.send(ControlReply.line("remote command killed by SIG\(signal)")) }
        connection.send(ControlReply.exit(exit.shellStatus))
    }

    // MARK: push and pull

    private func push(_ request: ControlRequest, _ client: SFTPClient, _ connection: ControlConnection) async throws {
        guard let local = request.localPath, let remote = request.remotePath else {
            connection.send(ControlReply.error("push needs a local and a remote path"))
            return
        }
        var options = PushOptions()
        options.delete = request.flags.contains("delete")
        options.checksum = request.flags.contains("checksum")
        options.dryRun = request.flags.contains("dry-run")
        options.force = request.flags.contains("force")
        options.inPlace = request.flags.contains("inplace")
        options.verify = request.flags.contains("verify")
        options.useState = !request.flags.contains("no-state")
        options.maxDelete = request.maxDelete
        let filter = ExclusionFilter(root: local, excludes: request.excludes,
                                     useDefaults: !request.flags.contains("no-default-ignores"))
        let (display, progress) = Self.progress(for: request, to: connection)
        let report = try await PushJob(localRoot: local, remoteRoot: remote, client: client, options: options,
                                       isExcluded: filter.walkPredicate, progress: progress, logger: logger).run()
        progress.conclude(warnings: report.warnings, summary: display.summary ? report.headline(dryRun: options.dryRun) : nil,
                          failures: report.failures, prefix: display.prefix)
        connection.send(ControlReply.exit(report.failures.isEmpty ? 0 : 1))
    }

    private func pull(_ request: ControlRequest, _ client: SFTPClient, _ connection: ControlConnection) async throws {
        guard let local = request.localPath, let remote = request.remotePath else {
            connection.send(ControlReply.error("pull needs a remote and a local path"))
            return
        }
        var options = PullOptions()
        options.include = request.includes
        options.dryRun = request.flags.contains("dry-run")
        options.directoryAsName = request.flags.contains("directory-as-name")
        let (display, progress) = Self.progress(for: request, to: connection)
        let report = try await PullJob(remotePath: remote, localRoot: local, client: client, options: options,
                                       progress: progress, logger: logger).run()
        progress.conclude(warnings: report.warnings, summary: display.summary ? report.summary : nil,
                          failures: report.failures, prefix: display.prefix)
        connection.send(ControlReply.exit(report.failures.isEmpty ? 0 : 1))
    }

    /// The client's display (plain lines with a summary for a client that sent none), and a
    /// reporter that draws it as stderr output of the client.
    private static func progress(for request: ControlRequest,
                                 to connection: ControlConnection) -> (ControlDisplay, ProgressReporter) {
        let display = request.display ?? ControlDisplay(mode: .plain, columns: 200, summary: true)
        return (display, display.reporter { connection.send(ControlReply.output(.stderr, Array($0.utf8))) })
    }
}
