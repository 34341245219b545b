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
            // The first of: released, a stop signal, the session ended, unused for `persist` s.
            let (endings, ending) = AsyncStream.makeStream(of: String.self)
            let serving = Locked<ControlServer?>(nil)
            let host = SharedSessionHost(role: keeper ? ControlRole.keeper : ControlRole.connect, localRoot: nil,
                                         remoteRoot: spec.path.isEmpty ? nil : spec.path, watch: nil, status: nil,
                                         logger: logger, onRelease: {
                                             ending.yield("a watch or `muxsync connect` took the socket over")
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
                ? try ControlServer.start(key: client.session.target.sharingKey, logger: logger, handler: handler)
                : try ControlServer.startReplacingKeeper(key: client.session.target.sharingKey, logger: logger, handler: handler)
            guard let server = started else {
                await client.session.close()
                throw ValidationError("another muxsync process already shares a session to \(client.session.endpoint)")
            }
            serving.withLock { $0 = server }
            if !connection.quiet {
                let until = persist.map { "until \(Int($0)) s pass unused" } ?? "until Ctrl-C"
                StandardStream.error.write("holding a session to \(client.session.endpoint) at \(server.path) \(until)\n")
            }
            let stops = StopSignals { ending.yield("stopped by a signal") }
            let lost = Task {
                await client.session.waitUntilEnded()
                ending.yield("the connection was lost")
            }
            // Sleeps until the session could first have been unused for `persist` s, then looks again.
            let idle = Task {
                guard let persist else { return }
                while !Task.isCancelled {
                    let left = persist - usage.idleSeconds()
                    if left <= 0 { break }
                    try await Task.sleep(for: .seconds(left + 0.01))
                }
                ending.yield("unused for \(Int(persist)) s")
            }
            var reasons = endings.makeAsyncIterator()
            let why = await reasons.next() ?? "stopped"
            stops.cancel()
            lost.cancel()
            idle.cancel()
            server.stop()
            if !connection.quiet {
                StandardStream.error.write("\(Date()) closing the session to \(client.session.endpoint): \(why)\n")
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
