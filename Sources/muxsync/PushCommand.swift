import ArgumentParser
import Foundation
import MuxSSHConfig
import MuxSync
import Logging
import MuxTransport

struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Make HOST:PATH hold exactly LOCAL_DIR's tree (one-shot).",
        discussion: """
            Only new or changed files move (size + mtime, or content with --checksum); each lands \
            atomically (temporary name, then rename). Permission bits and mtimes are kept; symlinks \
            are sent as symlinks. With no arguments, LOCAL_DIR and HOST:PATH come from the \
            .muxsync.toml of the current project.
            """)

    @OptionGroup var tree: TreeArguments

    @Flag(help: "Compare file contents instead of size and mtime (reads remote files back).")
    var checksum = false

    @Flag(help: "Delete remote entries that are gone locally.")
    var delete = false

    // .unconditional: `--max-delete -1` is a value to refuse clearly, not a missing one.
    @Option(parsing: .unconditional, help: "With --delete: refuse when more than N remote entries would be deleted.")
    var maxDelete: Int?

    @Flag(help: "Print what would happen; change nothing.")
    var dryRun = false

    @Flag(help: "Overwrite or delete remote files that were changed on the remote since muxsync last wrote them.")
    var force = false

    @Flag(name: .customLong("inplace"), help: "Write changed blocks into remote files directly (for huge append-mostly files; NOT atomic).")
    var inPlace = false

    @Flag(help: "Read every written file back and compare its hash with the local file.")
    var verify = false

    @Flag(help: "Do not use or update muxsync's record of the remote (no delta transfer, no conflict detection).")
    var noState = false

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var keep: PersistOption

    mutating func validate() throws {
        if let maxDelete, maxDelete < 0 { throw ValidationError("--max-delete must be 0 or more (got \(maxDelete))") }
    }

    func run() async throws {
        let logger = connection.makeLogger()
        do {
            let (project, remotes) = try tree.resolve()
            if remotes.count == 1 {
                let progress = ProgressReporter.forStandardError(quiet: connection.quiet)
                let outcome = try await push(project, to: remotes[0], progress: progress, logger: logger)
                if outcome != 0 { throw ExitCode(outcome) }
                return
            }
            // Several hosts: one session each, all at once; a slow or failed host does not hold up the others.
            let results = await withTaskGroup(of: (String, Result<Int32, Error>).self) { group in
                for remote in remotes {
                    group.addTask {
                        do {
                            let code = try await push(project, to: remote, progress: ProgressReporter(mode: .quiet),
                                                      logger: logger, prefix: remote.description + ": ")
                            return (remote.description, .success(code))
                        } catch {
                            return (remote.description, .failure(error))
                        }
                    }
                }
                var collected: [(String, Result<Int32, Error>)] = []
                for await item in group { collected.append(item) }
                return collected.sorted { $0.0 < $1.0 }
            }
            var failed = 0
            for (name, result) in results {
                switch result {
                case .success(0): break
                case .success: failed += 1
                case .failure(let error):
                    failed += 1
                    StandardStream.error.write("muxsync: \(name): error: \(error)\n")
                }
            }
            if failed > 0 { throw ExitCode.failure }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw report(error)
        }
    }

    /// One destination: through a shared session if one is running, else its own.
    /// Returns the exit status (0 when everything was sent).
    private func push(_ project: ProjectSettings, to remote: RemoteSpec, progress: ProgressReporter, logger: Logger,
                      prefix: String = "") async throws -> Int32 {
        var options = PushOptions()
        options.checksum = checksum || (project.config?.checksum ?? false)
        options.delete = delete || (project.config?.delete ?? false)
        options.maxDelete = maxDelete ?? project.config?.maxDelete
        options.dryRun = dryRun
        options.force = force
        options.inPlace = inPlace
        options.verify = verify
        options.useState = !noState
        let allExcludes = tree.allExcludes(project)
        let connector = Connector(options: connection, logger: logger)
        var request = ControlRequest(operation: .push)
        request.localPath = absolutePath(project.localRoot)
        request.remotePath = remote.path
        request.excludes = allExcludes
        request.maxDelete = options.maxDelete
        request.flags = [(options.delete, "delete"), (options.checksum, "checksum"), (dryRun, "dry-run"), (force, "force"),
                         (inPlace, "inplace"), (verify, "verify"), (noState, "no-state"),
                         (tree.noDefaultIgnores, "no-default-ignores")].filter(\.0).map(\.1)
        request.display = ControlDisplay(mode: progress.mode, columns: ProgressReporter.terminalWidth(), prefix: prefix,
                                         summary: !connection.quiet)
        if let code = try await SharedClient.run(request, for: remote, connector: connector, quiet: connection.quiet,
                                                     persist: try keep.resolved(project: project.config)) {
            return code
        }
        let filter = tree.filter(project)
        let client = try await connector.open(remote)
        let report: PushReport
        do {
            report = try await PushJob(localRoot: project.localRoot, remoteRoot: remote.path, client: client,
                                       options: options, isExcluded: filter.walkPredicate, progress: progress,
                                       logger: logger).run()
        } catch {
            await client.session.close()
            throw error
        }
        await client.session.close()
        progress.conclude(warnings: report.warnings, summary: connection.quiet ? nil : report.headline(dryRun: dryRun),
                          failures: report.failures, prefix: prefix)
        return report.failures.isEmpty ? 0 : 1
    }
}
