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
