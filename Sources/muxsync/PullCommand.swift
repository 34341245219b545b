import ArgumentParser
import Foundation
import MuxSSHConfig
import MuxSync
import MuxTransport

struct PullCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Bring a remote file or tree back (fast, resumable).",
        discussion: """
            A remote file lands as LOCAL_DIR/NAME; a remote directory's contents land in LOCAL_DIR \
            (created if missing). Files already identical by size and mtime are skipped; an \
            interrupted download resumes, and a file appears under its real name only when complete. \
            In a project with .muxsync.toml, `muxsync pull PATH` fetches PATH (relative to the \
            project) from the configured remote into the same place locally.
            """)

    @Argument(help: ArgumentHelp("HOST:PATH, or in a configured project a path relative to it.", valueName: "source"))
    var source: String

    @Argument(help: ArgumentHelp("Local directory to fill (default: see above, or the current directory).", valueName: "local-dir"))
    var localDirectory: String?

    @Option(name: .customLong("include"), help: ArgumentHelp("Only files matching GLOB (repeatable; without '/' it matches the name).", valueName: "glob"))
    var includes: [String] = []

    @Flag(help: "Print what would be fetched; change nothing.")
    var dryRun = false

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let logger = connection.makeLogger()
        do {
            let plan = try ProjectSettings.resolvePull(source: source, localArgument: localDirectory)
            var options = PullOptions()
            options.include = includes.isEmpty ? (plan.config?.pull.include ?? []) : includes
            options.dryRun = dryRun
            options.directoryAsName = plan.directoryAsName
            let connector = Connector(options: connection, logger: logger)
            var request = ControlRequest(operation: .pull)
            request.localPath = absolutePath(plan.localRoot)
            request.remotePath = plan.remote.path
            request.includes = options.include
            request.flags = [(dryRun, "dry-run"), (options.directoryAsName, "directory-as-name")].filter(\.0).map(\.1)
            if let code = try await SharedClient.run(request, for: plan.remote, connector: connector, quiet: connection.quiet) {
                if code != 0 { throw ExitCode(code) }
                return
            }
            let progress = ProgressReporter.forStandardError(quiet: connection.quiet)
            let client = try await connector.open(plan.remote)
            let report: PullReport
            do {
                report = try await PullJob(remotePath: plan.remote.path, localRoot: plan.localRoot, client: client,
                                           options: options, progress: progress, logger: logger).run()
            } catch {
                await client.session.close()
                throw error
            }
            await client.session.close()
            for warning in report.warnings { progress.printLine("warning: " + warning) }
            progress.finish(summary: connection.quiet ? nil : report.summary)
            if !report.failures.isEmpty {
                for failure in report.failures { StandardStream.error.write("muxsync: failed: \(failure)\n") }
                throw ExitCode.failure
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw report(error)
        }
    }
}
