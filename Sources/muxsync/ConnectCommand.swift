import ArgumentParser
import Foundation
import MuxSSHConfig
import MuxSync
import MuxTransport

struct ConnectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "Hold a session to HOST and share it: push, pull, exec and status from other terminals reuse it.",
        discussion: """
            The session listens on a Unix socket in a directory only you can enter \
            ($XDG_RUNTIME_DIR/muxsync or /tmp/muxsync-UID) and serves only your user id. \
            Runs until Ctrl-C, or with --persist until that many seconds pass without use.
            """)

    @Argument(help: ArgumentHelp("The remote: HOST or HOST:PATH (PATH: default directory for exec).", valueName: "host"))
    var host: String

    @Option(help: "Exit after this many seconds without a request (default: hold until Ctrl-C).")
    var persist: Double?

    /// Started in the background by push, pull or exec (`--persist`): shown as a keeper,
    /// and gives way to a watch or an explicit `muxsync connect` for the same host.
    @Flag(help: .hidden)
    var keeper = false

    @OptionGroup var connection: ConnectionOptions

    mutating func validate() throws {
        if let persist, !(persist > 0 && persist.isFinite) {
            throw ValidationError("--persist must be a positive number of seconds (got \(persist))")
        }
    }

    func run() async throws {
        let logger = connection.makeLogger()
        do {
            let spec = (try? RemoteSpec.classify(host)) ?? RemoteSpec(host: host, path: "")
            var connector = Connector(options: connection, logger: logger)
            if keeper { connector.quickLiveness = .seconds(5) }
            let client = try await connector.open(spec)
            client.session.keepSpareCommandChannel()
            // A keeper outlives the command that started it: it must not pin that directory.
            if keeper { _ = FileManager.default.changeCurrentDirectoryPath("/") }
            let usage = SessionUsage()
            let released = Locked(false)
            let serving = Locked<ControlServer?>(nil)
            let host = SharedSessionHost(role: keeper ? ControlRole.keeper : ControlRole.connect, localRoot: nil,
                                         remoteRoot: spec.path.isEmpty ? nil : spec.path, watch: nil, status: nil,
                                         logger: logger, onRelease: {
                                             released.withLock { $0 = true }
                                             // At once, before the answer: whoever asked binds the socket next.
                                             serving.withLock { $0 }?.stop()
                                         }, client: { client })
            let handler: ControlServer.Handler = { request, channel in
                usage.begin()
                defer { usage.end() }
                await host.handle(request, channel)
            }
            // An explicit connect replaces a background keeper; a keeper never replaces anyone.
            let started = keeper
                ? try ControlServer.start(endpoint: client.session.endpoint, logger: logger, handler: handler)
                : try ControlServer.startReplacingKeeper(endpoint: client.session.endpoint, logger: logger, handler: handler)
            guard let server = started else {
                await client.session.close()
                throw ValidationError("another muxsync process already shares a session to \(client.session.endpoint)")
            }
            serving.withLock { $0 = server }
            if !connection.quiet {
                let until = persist.map { "until \(Int($0)) s pass unused" } ?? "until Ctrl-C"
                FileHandle.standardError.write(Data("holding a session to \(client.session.endpoint) at \(server.path) \(until)\n".utf8))
            }
            let waiter = Task {
                while !Task.isCancelled && !client.session.isClosed {
                    if released.withLock({ $0 }) { break }
                    try await Task.sleep(for: .milliseconds(50))
                    if let persist, usage.idleSeconds() > persist { break }
                }
            }
            let stops = StopSignals { waiter.cancel() }
            _ = try? await waiter.value
            stops.cancel()
            server.stop()
            if !connection.quiet {
                let why = released.withLock({ $0 }) ? "a watch or `muxsync connect` took the socket over"
                    : client.session.isClosed ? "the connection was lost"
                    : waiter.isCancelled ? "stopped by a signal" : "unused for \(Int(persist ?? 0)) s"
                FileHandle.standardError.write(Data("\(Date()) closing the session to \(client.session.endpoint): \(why)\n".utf8))
            }
            // Requests already running (a push from another terminal) finish first.
            while usage.active > 0 { try? await Task.sleep(for: .milliseconds(50)) }
            await client.session.close()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw report(error)
        }
    }
}

/// When a held session was last used, and how many requests run on it now.
final class SessionUsage: Sendable {
    private let state = Locked((active: 0, last: Date()))

    func begin() { state.withLock { $0.active += 1; $0.last = Date() } }
    func end() { state.withLock { $0.active -= 1; $0.last = Date() } }
    var active: Int { state.withLock { $0.active } }
    /// Seconds since the last request ended; 0 while one runs.
    func idleSeconds() -> Double {
        state.withLock { $0.active > 0 ? 0 : Date().timeIntervalSince($0.last) }
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the running muxsync sessions: what each syncs, connection state, queue, last latency.")

    @Flag(help: "Print JSON (an array of sessions).")
    var json = false

    func run() async throws {
        let sessions = await StatusCommand.running()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(sessions), as: UTF8.self))
            return
        }
        if sessions.isEmpty {
            print("no muxsync sessions running")
            return
        }
        for session in sessions {
            var line = "\(session.endpoint)  \(session.role) (pid \(session.pid))  \(session.connection)"
            if let local = session.localRoot, let remote = session.remoteRoot { line += "  \(local) -> \(remote)" }
            line += "  queue \(session.queue)"
            if let latency = session.lastLatencyMilliseconds { line += "  last save \(latency) ms" }
            print(line)
        }
    }

    /// What every live socket of this user answers to `status`.
    static func running() async -> [SharedSessionStatus] {
        var sessions: [SharedSessionStatus] = []
        for path in (try? ControlSocket.all()) ?? [] {
            guard let fd = ControlSocket.connect(path) else { continue }
            let connection = ControlConnection(fd: fd)
            let found: SharedSessionStatus? = await Task.detached {
                var status: SharedSessionStatus?
                _ = try? ControlClient.run(ControlRequest(operation: .status), over: connection) { reply in
                    if let value = reply.status { status = value }
                }
                return status
            }.value
            if let found { sessions.append(found) }
        }
        return sessions
    }
}

struct DisconnectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disconnect",
        abstract: "Close the background sessions that push, pull and exec left open (--persist), now.",
        discussion: "With HOST, only the one to that host. A watch or `muxsync connect` is not stopped: end it where it runs.")

    @Argument(help: ArgumentHelp("The remote whose background session to close (default: all).", valueName: "host"))
    var host: String?

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let logger = connection.makeLogger()
        do {
            var sessions = await StatusCommand.running()
            if let host {
                let spec = (try? RemoteSpec.classify(host)) ?? RemoteSpec(host: host, path: "")
                let endpoint = try Connector(options: connection, logger: logger).resolve(spec).endpoint
                sessions = sessions.filter { $0.endpoint == endpoint }
                if sessions.isEmpty { throw ValidationError("no muxsync session to \(endpoint) is running") }
            }
            var refused = false
            for session in sessions {
                if session.role == ControlRole.keeper, ControlClient.releaseKeeper(endpoint: session.endpoint) {
                    if !connection.quiet { print("closed the background session to \(session.endpoint) (pid \(session.pid))") }
                } else if session.role != ControlRole.keeper || host != nil {
                    refused = true
                    FileHandle.standardError.write(Data(
                        "muxsync: \(session.endpoint) is held by `muxsync \(session.role)` (pid \(session.pid)); stop it where it runs\n".utf8))
                }
            }
            if refused && host != nil { throw ExitCode.failure }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw report(error)
        }
    }
}
