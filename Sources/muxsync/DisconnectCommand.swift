import ArgumentParser
import Foundation
import MuxSSHConfig
import MuxSync

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
            let sessions: [(path: String, status: SharedSessionStatus)]
            if let host {
                // Only that host's socket (found as push and exec find it), not every session's.
                let spec = (try? RemoteSpec.classify(host)) ?? RemoteSpec(host: host, path: "")
                let target = try Connector(options: connection, logger: logger).resolve(spec)
                let path = try ControlSocket.path(for: target.sharingKey)
                guard let status = await Task.detached(operation: { ControlClient.status(path: path) }).value else {
                    throw ValidationError("no muxsync session to \(target.endpoint) is running")
                }
                sessions = [(path, status)]
            } else {
                sessions = await StatusCommand.running()
            }
            var refused = false
            for (path, session) in sessions {
                if session.role == ControlRole.keeper, ControlClient.releaseKeeper(path: path) {
                    if !connection.quiet { print("closed the background session to \(session.endpoint) (pid \(session.pid))") }
                } else if session.role != ControlRole.keeper || host != nil {
                    refused = true
                    StandardStream.error.write(
                        "muxsync: \(session.endpoint) is held by `muxsync \(session.role)` (pid \(session.pid)); stop it where it runs\n")
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
