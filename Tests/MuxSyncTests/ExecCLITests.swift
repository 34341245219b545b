import Foundation
import MuxTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `muxsync exec` as a user runs it, next to `muxsync connect`: the fast path (no
/// ArgumentParser) and the usual one give the same output, status and signals, and both use
/// the held session rather than a connection of their own.
@Suite(.serialized) struct ExecCLITests {
    @Test func execOverAHeldSessionFastAndUsualPathsAgree() throws {
        let lab = try SyncLab()
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "SSH_AUTH_SOCK")
        environment["HOME"] = try lab.makeDirectory("home")
        environment["XDG_STATE_HOME"] = try lab.makeDirectory("home/state")
        let runtime = try lab.makeDirectory("run")
        chmod(runtime, 0o700)
        environment["XDG_RUNTIME_DIR"] = runtime
        let config = lab.server.sshConfigPath
        let alias = SSHDServer.hostAlias
        let log = lab.path("connect.log")
        let holder = try ChildProcess.spawn(SyncLab.muxsyncBinary, ["connect", "-F", config, alias], environment: environment,
                                            stderr: .file(path: log, append: false), newProcessGroup: true)
        defer { holder.terminate() }
        let deadline = Date().addingTimeInterval(60)
        while !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("holding a session"), Date() < deadline {
            #expect(holder.isRunning, "muxsync connect ended: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            guard holder.isRunning else { return }
            usleep(50_000)
        }

        func exec(_ options: [String], _ command: [String]) throws -> ProcessResult {
            try ProcessRunner.run(SyncLab.muxsyncBinary, ["exec"] + options + ["-F", config, alias, "--"] + command,
                                  environment: environment, timeout: 120)
        }
        let script = ["sh", "-c", "echo \"$1\"; echo err >&2; exit 3", "sh", "it's $HOME"]
        let fast = try exec([], script)
        #expect(fast.termination == .exited(3), "stderr: \(fast.stderr)")
        #expect(fast.stdout == "it's $HOME\n")
        #expect(fast.stderr == "err\n")
        // --accept-new is not on the fast path's list: ArgumentParser parses, same session.
        let usual = try exec(["--accept-new"], script)
        #expect(usual.termination == .exited(3), "stderr: \(usual.stderr)")
        #expect(usual.stdout == fast.stdout)
        #expect(usual.stderr == fast.stderr)

        // Commands of one SSH connection are children of the same sshd process.
        let parent = ["sh", "-c", "echo $PPID"]
        let viaFast = try exec([], parent).stdout
        let viaUsual = try exec(["--accept-new"], parent).stdout
        let ownConnection = try exec(["--no-shared"], parent).stdout
        #expect(!viaFast.isEmpty && viaFast == viaUsual, "both use the held session: \(viaFast) \(viaUsual)")
        #expect(viaFast != ownConnection, "--no-shared connects anew")

        // Ctrl-C reaches the remote command (128 + SIGINT), through the fast path too.
        let sleeper = try ChildProcess.spawn(SyncLab.muxsyncBinary, ["exec", "-F", config, alias, "--", "sleep", "30"],
                                             environment: environment, newProcessGroup: true)
        usleep(1_500_000)
        sleeper.signal(SIGINT)
        let stopped = sleeper.wait(timeout: 30)
        #expect(stopped == .exited(130), "\(String(describing: stopped))")
    }
}
