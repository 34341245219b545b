import ArgumentParser
import Foundation
import MuxSSHConfig
import MuxSync
import MuxTransport

struct ExecCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command on the remote over the SSH session; exits with its status.",
        discussion: """
            Output streams as it comes; Ctrl-C reaches the remote command (again: TERM, then KILL). \
            Arguments after -- arrive exactly as given (quoted for the remote shell). In a project with \
            .muxsync.toml the command runs in the project's remote directory unless --cwd says otherwise.
            """)

    @Argument(help: ArgumentHelp("The remote: HOST, HOST:PATH (PATH becomes the working directory), or omitted in a project.", valueName: "host"))
    var host: String?

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "command"))
    var command: [String] = []

    @Option(help: "Remote working directory.")
    var cwd: String?

    @Flag(help: "First wait until every local change seen so far is on the remote (needs a running watch).")
    var sync = false

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var keep: PersistOption

    mutating func validate() throws {
        if command.isEmpty { throw ValidationError("give the command after --, e.g. muxsync exec gpu -- python train.py") }
    }

    func run() async throws {
        let logger = connection.makeLogger()
        let status: Int32
        do {
            let (spec, directory, project) = try resolveTarget()
            let connector = Connector(options: connection, logger: logger)
            var request = ControlRequest(operation: .exec)
            request.arguments = command
            request.directory = directory
            request.sync = sync
            if let code = try await SharedClient.run(request, for: spec, connector: connector, quiet: connection.quiet,
                                                     persist: sync ? 0 : try keep.resolved(project: project)) {
                throw ExitCode(code)
            }
            if sync {
                throw ValidationError("--sync needs a running `muxsync watch` for this host (none found); start one, or drop --sync")
            }
            let session = try await connector.connect(spec)
            let run = RemoteRun(session: session, arguments: command, directory: directory)
            let stops = StopSignals { Task { await run.interrupt() } }
            defer { stops.cancel() }
            let exit = try await run.run(stdout: { StandardStream.output.write($0) },
                                         stderr: { StandardStream.error.write($0) })
            await session.close()
            if let signal = exit.signal { StandardStream.error.write("muxsync: remote command killed by SIG\(signal)\n") }
            status = exit.shellStatus
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw report(error)
        }
        throw ExitCode(status)
    }

    /// HOST[:PATH] from the argument, or the project's remote; --cwd wins.
    private func resolveTarget() throws -> (RemoteSpec, String?, ProjectConfig?) {
        if let host {
            let (spec, directory) = Self.target(host: host, cwd: cwd)
            return (spec, directory, nil)
        }
        let project = try ProjectSettings.resolve(localArgument: nil, remoteArgument: nil)
        return (project.remote, cwd ?? project.remote.path, project.config)
    }

    /// HOST or HOST:PATH (PATH becomes the working directory unless --cwd is given).
    static func target(host: String, cwd: String?) -> (RemoteSpec, String?) {
        if let spec = try? RemoteSpec.classify(host) {
            return (spec, cwd ?? (spec.path.isEmpty ? nil : spec.path))
        }
        return (RemoteSpec(host: host, path: ""), cwd)
    }
}
