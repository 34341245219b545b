import Foundation
import Logging
import MuxTestSupport
import MuxTransport
import Testing
@testable import MuxSync
#if canImport(Glibc)
import Glibc
#endif

/// Session sharing: the socket's directory and peer checks, stale sockets,
/// exec through a held session (status, signals), and fan-out to two hosts.
@Suite(.serialized) struct SharedSessionTests {
    @Test func socketDirectoryMustBePrivate() throws {
        let lab = try SyncLab()
        let fresh = lab.path("sockets")
        #expect(try ControlSocket.checkedDirectory(fresh) == fresh)
        var st = stat()
        #expect(lstat(fresh, &st) == 0 && st.st_mode & 0o777 == 0o700)
        chmod(fresh, 0o755)
        #expect(throws: ControlError.self) { _ = try ControlSocket.checkedDirectory(fresh) }
        let file = lab.path("not-a-dir")
        #expect(FileManager.default.createFile(atPath: file, contents: Data()))
        #expect(throws: ControlError.self) { _ = try ControlSocket.checkedDirectory(file) }
    }

    @Test func staleSocketIsReplacedNotHungOn() throws {
        let lab = try SyncLab()
        let path = try ControlSocket.checkedDirectory(lab.path("sockets")) + "/stale.sock"
        // A socket whose owner is gone: bound, never listened, closed.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = try #require(ControlSocket.address(path))
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        close(fd)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(ControlSocket.connect(path) == nil, "a dead socket answers ECONNREFUSED at once")
        #expect(!FileManager.default.fileExists(atPath: path), "and is removed")
        let server = try #require(try ControlServer.start(path: path, logger: Logger(label: "t")) { _, c in
            c.send(ControlReply.exit(7))
        })
        defer { server.stop() }
        // A second server for the same socket sees the live one and declines.
        #expect(try ControlServer.start(path: path, logger: Logger(label: "t")) { _, _ in } == nil)
        let connection = ControlConnection(fd: try #require(ControlSocket.connect(path)))
        #expect(try ControlClient.run(ControlRequest(operation: .status), over: connection) { _ in } == 7)
    }

    @Test func racingListenersLeaveExactlyOneSocket() throws {
        let lab = try SyncLab()
        let folder = try ControlSocket.checkedDirectory(lab.path("sockets"))
        for round in 0..<100 {
            let path = folder + "/race-\(round).sock"
            let winners = Locked([Int32]())
            let start = DispatchSemaphore(value: 0)
            let group = DispatchGroup()
            for _ in 0..<8 {
                group.enter()
                Thread.detachNewThread {  // threads, not the 2-wide global queue: they really race
                    start.wait()
                    if let fd = try? ControlSocket.listen(path) { winners.withLock { $0.append(fd) } }
                    group.leave()
                }
            }
            for _ in 0..<8 { start.signal() }
            group.wait()
            let fds = winners.withLock { $0 }
            #expect(fds.count == 1, "round \(round): \(fds.count) processes think they serve the socket")
            for fd in fds { close(fd) }
        }
    }

    @Test func garbageOnTheSocketClosesThatConnectionOnly() throws {
        let lab = try SyncLab()
        let path = try ControlSocket.checkedDirectory(lab.path("sockets")) + "/g.sock"
        let server = try #require(try ControlServer.start(path: path, logger: Logger(label: "t")) { _, c in
            c.send(ControlReply.exit(7))
        })
        defer { server.stop() }
        let frames: [[UInt8]] = [
            Array("{\"operation\":\"exec\",\"arguments\":[1]}".utf8), Array("{\"operation\":\"nope\"}".utf8),
            Array("not json".utf8), [0x7b, 0x22, 0xff], Array(repeating: UInt8(ascii: "["), count: 5000),
        ]
        for body in frames {
            let fd = try #require(ControlSocket.connect(path))
            let length = UInt32(body.count)
            let frame = [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)] + body
            #expect(frame.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == frame.count)
            var byte: UInt8 = 0
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            #expect(recv(fd, &byte, 1, 0) == 0, "the holder closes a connection whose request it cannot read")
            close(fd)
        }
        let connection = ControlConnection(fd: try #require(ControlSocket.connect(path)))
        #expect(try ControlClient.run(ControlRequest(operation: .status), over: connection) { _ in } == 7,
                "and keeps serving the next one")
    }

    @Test func otherUsersAreRefused() throws {
        let lab = try SyncLab()
        // A directory others may enter, so the peer check itself is what refuses.
        let open = lab.path("open")
        try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: true)
        chmod(lab.root, 0o755)
        chmod(open, 0o777)
        let path = open + "/s.sock"
        let served = Locked(0)
        let server = try #require(try ControlServer.start(path: path, logger: Logger(label: "t")) { _, c in
            served.withLock { $0 += 1 }
            c.send(ControlReply.exit(0))
        })
        defer { server.stop() }
        chmod(path, 0o777)
        let script = """
            import socket, struct, json
            s = socket.socket(socket.AF_UNIX); s.connect('\(path)')
            body = json.dumps({"operation": "status"}).encode()
            s.sendall(struct.pack('>I', len(body)) + body)
            data = s.recv(65536); print(data[4:].decode())
            """
        let result = try ProcessRunner.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups",
                                                                "/usr/bin/python3", "-c", script])
        #expect(result.stdout.contains("refused a control connection from uid 65534"), "\(result.stdout) \(result.stderr)")
        #expect(served.withLock { $0 } == 0)
    }

    @Test func execThroughAHeldSessionKeepsStatusAndSignals() async throws {
        let lab = try SyncLab()
        let client = try await lab.connect(channels: 1)
        let host = SharedSessionHost(role: "connect", localRoot: nil, remoteRoot: nil, watch: nil, status: nil,
                                     logger: Logger(label: "t"), client: { client })
        let path = try ControlSocket.checkedDirectory(lab.path("sockets")) + "/s.sock"
        let server = try #require(try ControlServer.start(path: path, logger: Logger(label: "t")) { request, connection in
            await host.handle(request, connection)
        })
        defer { server.stop() }

        func exec(_ argv: [String], in directory: String? = nil, interruptAfter: Double? = nil) async throws -> (Int32, String) {
            let connection = ControlConnection(fd: try #require(ControlSocket.connect(path)))
            var request = ControlRequest(operation: .exec)
            request.arguments = argv
            request.directory = directory
            if let interruptAfter {
                Task {
                    try await Task.sleep(for: .seconds(interruptAfter))
                    connection.send(ControlRequest(operation: .interrupt))
                }
            }
            let output = Locked([UInt8]())
            let code = try await Task.detached {
                try ControlClient.run(request, over: connection) { reply in
                    if reply.kind == .stdout { output.withLock { $0 += reply.bytes ?? [] } }
                }
            }.value
            return (code, String(decoding: output.withLock { $0 }, as: UTF8.self))
        }

        let (ok, text) = try await exec(["sh", "-c", "echo \"$1\"; exit 5", "sh", "it's $HOME"])
        #expect(ok == 5)
        #expect(text == "it's $HOME\n")
        let (interrupted, _) = try await exec(["sleep", "30"], interruptAfter: 1)
        #expect(interrupted == 130, "Ctrl-C must reach the remote command (128 + SIGINT)")
        // The command is not exec'd by our wrapper: a shell that forks it keeps it in the
        // process group that Ctrl-C signals, so neither the shell nor its child lives on.
        let (forked, after) = try await exec(["sh", "-c", "sleep 30; echo survived"], interruptAfter: 1)
        #expect(forked == 130 && after.isEmpty, "\(forked) \(after)")
        // A working directory: the command runs there; one that does not exist stops it.
        let directory = try lab.makeDirectory("work dir")
        let (inside, cwd) = try await exec(["pwd"], in: directory)
        #expect(inside == 0 && cwd == directory + "\n", "\(inside) \(cwd)")
        let (missing, nothing) = try await exec(["echo", "ran"], in: lab.path("no such dir"))
        #expect(missing != 0 && nothing.isEmpty, "\(missing) \(nothing)")
        await client.session.close()
    }

    @Test func fanOutReportsEachHostAndSurvivesOneDown() async throws {
        let lab = try SyncLab()
        let down = try SSHDServer.start()
        let downPort = down.port
        down.stop()
        let local = try lab.makeDirectory("tree")
        try Disk.file(local + "/a.txt", "alpha\n")
        try lab.server.addHostAlias("deadhost", port: downPort)
        let result = try lab.runCLI(["push", "-F", lab.server.sshConfigPath, "--no-shared", local,
                                     "muxsync-test:" + lab.path("up"), "deadhost:" + lab.path("down")])
        #expect(!result.succeeded, "a failed host makes the exit status non-zero")
        #expect(result.stderr.contains("deadhost:"), "\(result.stderr)")
        #expect(try String(contentsOfFile: lab.path("up/a.txt"), encoding: .utf8) == "alpha\n", "the live host still got it")
    }
}
