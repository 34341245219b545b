import ArgumentParser
import Dispatch
import Foundation
import MuxSSHConfig
import MuxSync
import MuxTransport

struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Keep HOST:PATH in step with LOCAL_DIR: every save reaches the remote within milliseconds.",
        discussion: """
            First pushes the tree (without deleting remote extras unless --delete), then sends each \
            change over the one open SSH session: inotify on Linux, polling elsewhere or with --poll. \
            Deletes and renames propagate; an emptied or vanished LOCAL_DIR never empties the remote. \
            When the connection drops, changes keep queueing and are sent after reconnecting. \
            Stop with Ctrl-C.
            """)

    @OptionGroup var tree: TreeArguments

    @Flag(help: "Poll the tree instead of using inotify (network filesystems, containers).")
    var poll = false

    @Option(parsing: .unconditional, help: "Seconds between polls with --poll (or where inotify is unavailable).")
    var pollInterval: Double?

    @Flag(help: "The first sync also deletes remote entries that do not exist locally.")
    var delete = false

    @Flag(help: "Overwrite or delete remote files changed on the remote since muxsync last wrote them.")
    var force = false

    @Flag(help: "One JSON object per line on standard output, for scripts.")
    var json = false

    @OptionGroup var connection: ConnectionOptions

    mutating func validate() throws {
        if let pollInterval, !(0.01...3600).contains(pollInterval) {
            throw ValidationError("--poll-interval must be between 0.01 and 3600 seconds (got \(pollInterval))")
        }
    }

    func run() async throws {
        let logger = connection.makeLogger()
        do {
            let (project, remotes) = try tree.resolve()
            var options = WatchOptions()
            options.forcePolling = poll
            options.pollInterval = .milliseconds(Int((pollInterval ?? project.config?.pollInterval ?? 1) * 1000))
            options.deleteOnStart = delete
            options.force = force
            let connector = Connector(options: connection, logger: logger)
            // One engine (and session) per host, side by side; each host's lines carry its name.
            var engines: [(WatchEngine, WatchStatus, RemoteSpec)] = []
            for remote in remotes {
                let filter = tree.filter(project)
                let status = remotes.count == 1
                    ? WatchStatus.forStandardError(json: json, quiet: connection.quiet)
                    : WatchStatus.forStandardError(json: json, quiet: connection.quiet, prefix: remote.description + ": ")
                status.emit(.connecting(remote.description))
                let engine = WatchEngine(localRoot: project.localRoot, remoteRoot: remote.path, options: options, filter: filter,
                                         status: status, logger: logger) { [noShared = connection.noShared] in
                    let client = try await connector.open(remote)
                    if !noShared { client.session.keepSpareCommandChannel() }  // `muxsync exec` in one round trip
                    return client
                }
                engines.append((engine, status, remote))
            }
            var servers: [ControlServer] = []
            defer { for server in servers { server.stop() } }
            if !connection.noShared {
                for (engine, status, remote) in engines {
                    let host = SharedSessionHost(role: ControlRole.watch, localRoot: absolutePath(project.localRoot), remoteRoot: remote.path,
                                                 watch: engine, status: status, logger: logger, client: { engine.client })
                    if let server = try? ControlServer.startReplacingKeeper(key: try connector.resolve(remote).sharingKey, logger: logger,
                                                             handler: { request, channel in await host.handle(request, channel) }) {
                        servers.append(server)
                    }
                }
            }
            let runs = engines.map { item in Task { try await item.0.run() } }
            let stops = StopSignals { for run in runs { run.cancel() } }
            defer { stops.cancel() }
            var firstError: Error?
            for (index, run) in runs.enumerated() {
                do {
                    try await run.value
                } catch is CancellationError {
                    engines[index].1.finish()
                } catch {
                    engines[index].1.emit(.failed(path: engines[index].2.description, message: "\(error)"))
                    if firstError == nil { firstError = error }
                }
            }
            if let firstError { throw firstError }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw report(error)
        }
    }
}

/// Turns SIGINT/SIGTERM into a clean stop (spares removed, state saved).
final class StopSignals: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]

    init(_ handler: @escaping @Sendable () -> Void) {
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }

    func cancel() { for source in sources { source.cancel() } }
}
