import Foundation
import MuxTestSupport
import Testing
@testable import MuxSync
#if canImport(Glibc)
import Glibc
#endif

/// `--persist`: push, pull and exec leave their session open in the background (a
/// keeper, `muxsync connect --keeper`) and the next command runs over it; the keeper
/// goes when idle or on `muxsync disconnect`, gives way to a watch, holds none of its starter's descriptors, and
/// a keeper that cannot connect leaves the command to connect (and fail) by itself.
/// Each test has its own socket directory (XDG_RUNTIME_DIR), so keepers of other tests
/// or of the user are never seen.
@Suite(.serialized) struct SessionKeeperTests {
    /// A lab whose CLI runs keep sessions open (the tests' default is MUXSYNC_PERSIST=0).
    struct KeeperLab {
        let lab: SyncLab
        let environment: [String: String]
        let local: String

        init() throws {
            lab = try SyncLab()
            var environment = try lab.cliEnvironment()
            environment.removeValue(forKey: "MUXSYNC_PERSIST")
            environment["XDG_RUNTIME_DIR"] = try lab.makeDirectory("runtime")
            self.environment = environment
            local = try lab.makeDirectory("tree")
            try Disk.file(local + "/a.txt", "alpha\n")
        }

        /// Where the tests push to (below the lab root).
        var remote: String { lab.path("remote") }

        /// `muxsync COMMAND -F <lab config> ARGS...` in this lab's environment.
        func run(_ arguments: [String]) throws -> ProcessResult {
            try lab.runCLI([arguments[0], "-F", lab.server.sshConfigPath] + arguments.dropFirst(), environment: environment)
        }

        /// `muxsync push OPTIONS LOCAL HOST:REMOTE`.
        func push(_ options: [String], host: String = SSHDServer.hostAlias) throws -> ProcessResult {
            try run(["push"] + options + [local, host + ":" + remote])
        }

        /// `muxsync status --json` in this lab's socket directory.
        func sessions() throws -> [SharedSessionStatus] {
            let result = try lab.runCLI(["status", "--json"], environment: environment)
            try #require(result.succeeded, "\(result.stderr)")
            return try JSONDecoder().decode([SharedSessionStatus].self, from: Data(result.stdout.utf8))
        }

        /// Ends every session still listed (a test that failed half-way leaves none behind).
        func stopAll() {
            for session in (try? sessions()) ?? [] { kill(session.pid, SIGTERM) }
        }
    }

    @Test func pushLeavesASessionThatTheNextCommandsUse() async throws {
        let keeper = try KeeperLab()
        defer { keeper.stopAll() }
        let remote = keeper.remote
        let first = try keeper.push(["--persist", "60", "-v"])
        #expect(first.succeeded, "\(first.stderr)")
        #expect(first.stderr.contains("started a background session"), "\(first.stderr)")
        #expect(first.stderr.contains("sent 1 file"), "the summary still reaches the terminal: \(first.stderr)")
        #expect(try String(contentsOfFile: remote + "/a.txt", encoding: .utf8) == "alpha\n")

        let sessions = try keeper.sessions()
        let held = try #require(sessions.first, "a keeper is listed")
        #expect(sessions.count == 1)
        #expect(held.role == ControlRole.keeper)
        // It holds none of the push's descriptors (the pipes this test reads): stdin and stdout are
        // /dev/null, and a pipe it has is its own (both ends held: the session loop's wake-up pipe).
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(held.pid)/fd")) ?? []
        let targets = fds.map { fd in
            (fd, (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(held.pid)/fd/\(fd)")) ?? "")
        }
        #expect(!targets.isEmpty)
        for (fd, target) in targets {
            if fd == "0" || fd == "1" { #expect(target == "/dev/null") }
            if target.hasPrefix("pipe:") {
                #expect(targets.filter { $0.1 == target }.count == 2, "fd \(fd) of the keeper is a pipe it inherited: \(target)")
            }
        }

        try Disk.file(keeper.local + "/b.txt", "beta\n")
        let second = try keeper.push(["-v"])
        #expect(second.succeeded, "\(second.stderr)")
        #expect(second.stderr.contains("using the session shared by another muxsync process"), "\(second.stderr)")
        #expect(!second.stderr.contains("started a background session"))
        #expect(second.stderr.contains("sent 1 file"), "\(second.stderr)")
        #expect(try String(contentsOfFile: remote + "/b.txt", encoding: .utf8) == "beta\n")

        // What the command prints comes from the keeper's push, drawn for this client: dry-run lines,
        // the headline, and (with -q) nothing but failures.
        try Disk.file(keeper.local + "/d.txt", "delta\n")
        let dry = try keeper.push(["--dry-run"])
        #expect(dry.succeeded, "\(dry.stderr)")
        #expect(dry.stderr.contains("would ") && dry.stderr.contains("d.txt"), "\(dry.stderr)")
        #expect(dry.stderr.contains("dry run: 1 changes"), "\(dry.stderr)")
        #expect(!FileManager.default.fileExists(atPath: remote + "/d.txt"))
        let quiet = try keeper.push(["-q"])
        #expect(quiet.succeeded && quiet.stderr.isEmpty, "\(quiet.stderr)")
        #expect(FileManager.default.fileExists(atPath: remote + "/d.txt"))

        let exec = try keeper.run(["exec", "-v", SSHDServer.hostAlias + ":" + remote, "--", "cat", "b.txt"])
        #expect(exec.succeeded, "\(exec.stderr)")
        #expect(exec.stdout == "beta\n")
        #expect(exec.stderr.contains("using the session shared by another muxsync process"), "\(exec.stderr)")

        let pulled = keeper.lab.path("pulled")
        let pull = try keeper.run(["pull", "-v", SSHDServer.hostAlias + ":" + remote + "/b.txt", pulled])
        #expect(pull.succeeded, "\(pull.stderr)")
        #expect(pull.stderr.contains("using the session shared by another muxsync process"), "\(pull.stderr)")
        #expect(try String(contentsOfFile: pulled + "/b.txt", encoding: .utf8) == "beta\n")
        #expect(try keeper.sessions().map(\.pid) == [held.pid], "still the one keeper")

        let closed = try keeper.run(["disconnect", SSHDServer.hostAlias])
        #expect(closed.succeeded, "\(closed.stderr)")
        #expect(closed.stdout.contains("closed the background session"), "\(closed.stdout)")
        #expect(await eventually(30) { kill(held.pid, 0) != 0 }, "muxsync disconnect ends the keeper")
        #expect(try keeper.sessions().isEmpty)
    }

    @Test func commandsStartedTogetherEndUpWithOneKeeper() async throws {
        let keeper = try KeeperLab()
        defer { keeper.stopAll() }
        // Three pushes at once find no session: each starts a keeper, one wins the socket, the
        // others exit, and every push runs over the winner.
        var runs: [(ChildProcess, String)] = []
        for index in 0..<3 {
            let log = keeper.lab.path("push-\(index).log")
            let run = try ChildProcess.spawn(SyncLab.muxsyncBinary,
                                             ["push", "-F", keeper.lab.server.sshConfigPath, "--persist", "60", keeper.local,
                                              SSHDServer.hostAlias + ":" + keeper.remote + "-\(index)"],
                                             environment: keeper.environment,
                                             stdout: .file(path: log, append: true), stderr: .file(path: log, append: true))
            runs.append((run, log))
        }
        for (run, log) in runs {
            let termination = run.wait(timeout: 120)
            #expect(termination == .exited(0), "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
        for index in 0..<3 {
            #expect(try String(contentsOfFile: keeper.remote + "-\(index)/a.txt", encoding: .utf8) == "alpha\n")
        }
        let sessions = try keeper.sessions()
        #expect(sessions.count == 1, "\(sessions)")
        // No keeper is left listening where nobody can reach it.
        let keepers = try ProcessRunner.run("/usr/bin/pgrep", ["-f", "connect .*--keeper"]).stdout
            .split(separator: "\n").compactMap { Int32($0) }
            .filter { pid in
                let environ = (try? String(contentsOfFile: "/proc/\(pid)/environ", encoding: .utf8)) ?? ""
                return environ.contains(keeper.environment["XDG_RUNTIME_DIR", default: "?"])
            }
        #expect(await eventually(30) { keepers.filter { kill($0, 0) == 0 }.count == 1 }, "keepers alive: \(keepers)")
    }

    @Test func keeperLeavesWhenIdleAndPersistZeroStartsNone() async throws {
        let keeper = try KeeperLab()
        defer { keeper.stopAll() }
        let remote = keeper.remote
        let none = try keeper.push(["--persist", "0"])
        #expect(none.succeeded, "\(none.stderr)")
        #expect(try keeper.sessions().isEmpty, "--persist 0: nothing left running")

        let push = try keeper.push(["--persist", "1"])
        #expect(push.succeeded, "\(push.stderr)")
        let held = try #require(try keeper.sessions().first)
        #expect(await eventually(30) { try kill(held.pid, 0) != 0 && keeper.sessions().isEmpty },
                "the keeper exits once unused for 1 s")
        let sockets = try FileManager.default.contentsOfDirectory(atPath: keeper.environment["XDG_RUNTIME_DIR", default: ""] + "/muxsync")
        #expect(!sockets.contains { $0.hasSuffix(".sock") }, "and removes its socket: \(sockets)")

        var bad = keeper.environment
        bad["MUXSYNC_PERSIST"] = "soon"
        let refused = try keeper.lab.runCLI(["push", "-F", keeper.lab.server.sshConfigPath, keeper.local,
                                             SSHDServer.hostAlias + ":" + remote], environment: bad)
        #expect(!refused.succeeded)
        #expect(refused.stderr.contains("MUXSYNC_PERSIST must be 0 or a number of seconds (got 'soon')"), "\(refused.stderr)")
    }

    @Test func watchTakesTheSocketOverFromAKeeper() async throws {
        let keeper = try KeeperLab()
        defer { keeper.stopAll() }
        let remote = keeper.remote
        let push = try keeper.push(["--persist", "120"])
        #expect(push.succeeded, "\(push.stderr)")
        let held = try #require(try keeper.sessions().first)
        #expect(held.role == ControlRole.keeper)

        let log = keeper.lab.path("watch.log")
        let watch = try ChildProcess.spawn(SyncLab.muxsyncBinary,
                                           ["watch", "-F", keeper.lab.server.sshConfigPath, keeper.local,
                                            SSHDServer.hostAlias + ":" + remote],
                                           environment: keeper.environment,
                                           stdout: .file(path: log, append: true), stderr: .file(path: log, append: true))
        defer { _ = watch.terminate() }
        #expect(await eventually(60) { try keeper.sessions().map(\.role) == [ControlRole.watch] },
                "the watch serves the socket: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        #expect(await eventually(30) { kill(held.pid, 0) != 0 }, "the keeper gave way and exited")

        // exec --sync needs the watch: it now reaches it.
        try Disk.file(keeper.local + "/c.txt", "gamma\n")
        let exec = try keeper.run(["exec", "--sync", SSHDServer.hostAlias + ":" + remote, "--", "cat", "c.txt"])
        #expect(exec.succeeded, "\(exec.stderr)")
        #expect(exec.stdout == "gamma\n")

        let refused = try keeper.run(["disconnect", SSHDServer.hostAlias])
        #expect(!refused.succeeded, "disconnect does not stop a watch")
        #expect(refused.stderr.contains("is held by `muxsync watch`"), "\(refused.stderr)")
        #expect(try keeper.sessions().map(\.role) == [ControlRole.watch])
    }

    @Test func aPushWhoseKeeperLosesTheNetworkRunsAgainOnItsOwnConnection() async throws {
        let keeper = try KeeperLab()
        defer { keeper.stopAll() }
        let proxy = try keeper.lab.makeProxy()
        defer { proxy.stop() }
        let host = "synclab-proxy-\(proxy.port)"
        let remote = keeper.remote
        let first = try keeper.push(["--persist", "120"], host: host)
        #expect(first.succeeded, "\(first.stderr)")
        let held = try #require(try keeper.sessions().first)

        // The network goes silent (a laptop that moved, a NAT that forgot): the keeper's session
        // hears nothing, and a push sent to it waits until the keeper calls the session lost.
        try Disk.file(keeper.local + "/late.txt", "late\n")
        proxy.stall = true
        let log = keeper.lab.path("late-push.log")
        let push = try ChildProcess.spawn(SyncLab.muxsyncBinary,
                                          ["push", "-F", keeper.lab.server.sshConfigPath, keeper.local, host + ":" + remote],
                                          environment: keeper.environment,
                                          stdout: .file(path: log, append: true), stderr: .file(path: log, append: true))
        #expect(await eventually(90) { kill(held.pid, 0) != 0 }, "the keeper gives up on a silent network")
        proxy.stall = false  // the network is back: the push's own connection gets through
        let termination = push.wait(timeout: 120)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(termination == .exited(0), "\(text)")
        #expect(text.contains("was lost") && text.contains("connecting directly"), "\(text)")
        #expect(try String(contentsOfFile: remote + "/late.txt", encoding: .utf8) == "late\n")
    }

    @Test func ctrlCStopsAPushThatRunsInTheKeeper() async throws {
        let keeper = try KeeperLab()
        defer { keeper.stopAll() }
        let proxy = try keeper.lab.makeProxy()
        defer { proxy.stop() }
        let host = "synclab-proxy-\(proxy.port)"
        #expect(try keeper.push(["--persist", "120"], host: host).succeeded)
        let held = try #require(try keeper.sessions().first)

        // 24 MiB through a 4 MiB/s link: the Ctrl-C lands mid-transfer.
        var generator = SeededGenerator(seed: 7)
        try Disk.file(keeper.local + "/big.bin", Data((0..<(24 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        proxy.bandwidth = 4 << 20
        let log = keeper.lab.path("interrupted.log")
        let push = try ChildProcess.spawn(SyncLab.muxsyncBinary,
                                          ["push", "-F", keeper.lab.server.sshConfigPath, keeper.local, host + ":" + keeper.remote],
                                          environment: keeper.environment,
                                          stdout: .file(path: log, append: true), stderr: .file(path: log, append: true))
        let temporaries = { (try? FileManager.default.contentsOfDirectory(atPath: keeper.remote))?.filter { $0.hasPrefix(".muxsync.") } ?? [] }
        #expect(await eventually(60) { !temporaries().isEmpty }, "the upload started")
        push.signal(SIGINT)
        let termination = push.wait(timeout: 60)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(termination == .exited(130), "\(text)")
        #expect(text.contains("interrupted"), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: keeper.remote + "/big.bin"), "nothing half-sent under the real name")
        #expect(await eventually(30) { temporaries().isEmpty }, "and no temporary left: \(temporaries())")
        proxy.bandwidth = nil

        // The keeper lives on and the next push completes over it.
        let again = try keeper.push(["-v"], host: host)
        #expect(again.succeeded, "\(again.stderr)")
        #expect(again.stderr.contains("using the session shared by another muxsync process"))
        #expect(try keeper.sessions().map(\.pid) == [held.pid])
        #expect(FileManager.default.contentsEqual(atPath: keeper.local + "/big.bin", andPath: keeper.remote + "/big.bin"))
    }

    @Test func aKeeperOfAnotherBuildStepsAsideForANewerClient() async throws {
        let keeper = try KeeperLab()
        defer { keeper.stopAll() }
        // "Another build": the same binary under another path with another modification time.
        let older = keeper.lab.path("muxsync-older")
        try FileManager.default.copyItem(atPath: SyncLab.muxsyncBinary, toPath: older)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_700_000_000)], ofItemAtPath: older)
        let first = try keeper.lab.runCLI(["push", "-F", keeper.lab.server.sshConfigPath, "--persist", "60", keeper.local,
                                           SSHDServer.hostAlias + ":" + keeper.remote],
                                          environment: keeper.environment, executable: older)
        #expect(first.succeeded, "\(first.stderr)")
        let old = try #require(try keeper.sessions().first)

        try Disk.file(keeper.local + "/new.txt", "new\n")
        let push = try keeper.push(["-v"])
        #expect(push.succeeded, "\(push.stderr)")
        #expect(push.stderr.contains("replacing the background session of another muxsync build"), "\(push.stderr)")
        #expect(try String(contentsOfFile: keeper.remote + "/new.txt", encoding: .utf8) == "new\n")
        #expect(await eventually(30) { kill(old.pid, 0) != 0 }, "the old keeper exits")
        let now = try keeper.sessions()
        #expect(now.count == 1 && now.first?.pid != old.pid && now.first?.role == ControlRole.keeper)
    }

    @Test func aKeeperThatCannotConnectLeavesTheCommandToSayWhy() async throws {
        let keeper = try KeeperLab()
        defer { keeper.stopAll() }
        let down = try SSHDServer.start()
        let downPort = down.port
        down.stop()
        try keeper.lab.server.addHostAlias("deadhost", port: downPort)
        let result = try keeper.run(["push", "--persist", "60", keeper.local, "deadhost:" + keeper.lab.path("down")])
        #expect(!result.succeeded)
        #expect(result.stderr.contains("muxsync: error:"), "the command's own connect error: \(result.stderr)")
        #expect(result.stderr.lowercased().contains("refused"), "\(result.stderr)")
        #expect(try keeper.sessions().isEmpty, "no keeper is left behind")
    }

    /// The demo's case: a session kept for one alias is not used by another alias of the same
    /// server whose known_hosts does not hold the server's key; that command checks the key
    /// itself (and refuses it) instead of riding a session it would not have opened.
    @Test func anAliasWithOtherKnownHostsDoesNotRideTheKeptSession() async throws {
        let keeper = try KeeperLab()
        defer { keeper.stopAll() }
        let server = keeper.lab.server
        let kept = try keeper.push(["--persist", "60"])
        #expect(kept.succeeded, "\(kept.stderr)")
        #expect(try keeper.sessions().count == 1)

        let emptyKnownHosts = keeper.lab.path("empty_known_hosts")
        try Disk.file(emptyKnownHosts, "")
        let config = keeper.lab.path("stranger_config")
        try Disk.file(config, """
            Host stranger
              HostName \(server.host)
              Port \(server.port)
              User \(server.user)
              IdentityFile \(server.clientKeyPath)
              IdentitiesOnly yes
              UserKnownHostsFile \(emptyKnownHosts)
              StrictHostKeyChecking yes

            """)
        let stranger = try keeper.lab.runCLI(["exec", "-F", config, "stranger", "--", "echo", "ran"],
                                             environment: keeper.environment)
        #expect(!stranger.succeeded && !stranger.stdout.contains("ran"), "\(stranger.stdout) \(stranger.stderr)")
        #expect(stranger.stderr.lowercased().contains("host key"), "its own check refused the key: \(stranger.stderr)")
        #expect(try keeper.sessions().count == 1, "no keeper for a server whose key is not trusted")
        // With the key accepted, that alias gets a session of its own, next to the first.
        let accepted = try keeper.lab.runCLI(["exec", "-F", config, "--accept-new", "stranger", "--", "echo", "ran"],
                                             environment: keeper.environment)
        #expect(accepted.succeeded && accepted.stdout == "ran\n", "\(accepted.stderr)")
        let sessions = try keeper.sessions()
        #expect(sessions.count == 2)
        #expect(Set(sessions.compactMap(\.alias)) == [SSHDServer.hostAlias, "stranger"], "\(sessions)")
        let listed = try keeper.lab.runCLI(["status"], environment: keeper.environment)
        #expect(listed.stdout.contains("stranger (\(server.user)@"), "status names each alias: \(listed.stdout)")
    }
}
