import MuxSSHConfig
import MuxSync
import MuxTransport

// MARK: - `muxsync exec` over a shared session, before ArgumentParser

/// Runs `muxsync exec HOST -- CMD` through a session another muxsync process shares, without
/// ArgumentParser (reflection over the command tree, ~2 ms) or logging set-up on the way:
/// issue #6 asks for it to be as quick as `ssh` over a ControlMaster (docs/benchmarks.md,
/// "exec start-up").
///
/// Only for the command lines `ExecInvocation` recognises, and only when a session is shared
/// for the host: otherwise (or if anything fails before the request is sent) it returns nil and
/// `muxsync` parses and runs the command as usual, so results and messages are the same.
enum ExecFastPath {
    /// The exit status, or nil to take the usual path.
    static func run(_ arguments: [String]) -> Int32? {
        guard let invocation = ExecInvocation.recognise(arguments) else { return nil }
        let (spec, directory) = ExecCommand.target(host: invocation.host, cwd: invocation.cwd)
        guard let resolved = try? SSHTarget.resolve(spec, configFile: invocation.configFile, acceptNewHostKey: false),
              let connection = ControlClient.connect(key: resolved.target.sharingKey) else { return nil }
        var request = ControlRequest(operation: .exec)
        request.arguments = invocation.command
        request.directory = directory
        do {
            return try SharedClient.relay(request, over: connection, quiet: invocation.quiet)
        } catch let error as SharedSessionError where error.outdated {
            return nil  // a keeper of another build stepped aside, running nothing: the usual path starts a new one
        } catch {
            return report(error).rawValue
        }
    }
}
