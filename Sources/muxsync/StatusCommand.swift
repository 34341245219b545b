import ArgumentParser
import Foundation
import MuxSync

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the running muxsync sessions: what each syncs, connection state, queue, last latency.")

    @Flag(help: "Print JSON (an array of sessions).")
    var json = false

    func run() async throws {
        let sessions = await StatusCommand.running().map(\.status)
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
            var line = session.endpoint
            // The alias, unless it is the host name itself (stdlib calls only: see BinaryLinkTests).
            let hostAndPort = session.endpoint.split(separator: "@", maxSplits: 1).last.map(String.init) ?? line
            if let alias = session.alias, !hostAndPort.hasPrefix(alias + ":") { line = "\(alias) (\(line))" }
            line += "  \(session.role) (pid \(session.pid))  \(session.connection)"
            if let local = session.localRoot, let remote = session.remoteRoot { line += "  \(local) -> \(remote)" }
            line += "  queue \(session.queue)"
            if let latency = session.lastLatencyMilliseconds { line += "  last save \(latency) ms" }
            print(line)
        }
    }

    /// What every live socket of this user answers to `status`, with its path.
    static func running() async -> [(path: String, status: SharedSessionStatus)] {
        await Task.detached {
            ((try? ControlSocket.all()) ?? []).compactMap { path in ControlClient.status(path: path).map { (path, $0) } }
        }.value
    }
}
