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

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let logger = connection.makeLogger()
        do {
            let spec = (try? RemoteSpec.classify(host)) ?? RemoteSpec(host: host, path: "")
            let connector = Connector(options: connection, logger: logger)
            let client = try await connector.open(spec)
            client.session.keepSpareCommandChannel()
            let used = Locked(Date())
            let host = SharedSessionHost(role: "connect", localRoot: nil, remoteRoot: spec.path.isEmpty ? nil : spec.path,
                                         watch: nil, status: nil, logger: logger, client: { client })
            guard let server = try ControlServer.start(endpoint: client.session.endpoint, logger: logger, handler: { request, channel in
                used.withLock { $0 = Date() }
                await host.handle(request, channel)
                used.withLock { $0 = Date() }
            }) else {
                await client.session.close()
                throw ValidationError("another muxsync process already shares a session to \(client.session.endpoint)")
            }
            if !connection.quiet {
                StandardStream.error.write("holding a session to \(client.session.endpoint) at \(server.path); Ctrl-C to stop\n")
            }
            let waiter = Task {
                while !Task.isCancelled && !client.session.isClosed {
                    try await Task.sleep(for: .milliseconds(200))
                    if let persist, Date().timeIntervalSince(used.withLock { $0 }) > persist { break }
                }
            }
            let stops = StopSignals { waiter.cancel() }
            _ = try? await waiter.value
            stops.cancel()
            server.stop()
            await client.session.close()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw report(error)
        }
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the running muxsync sessions: what each syncs, connection state, queue, last latency.")

    @Flag(help: "Print JSON (an array of sessions).")
    var json = false

    func run() async throws {
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
}
