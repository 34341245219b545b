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
