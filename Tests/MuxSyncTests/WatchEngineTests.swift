import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import MuxTestSupport
import MuxTransport
import Testing
@testable import MuxSync

/// watch end to end against a real sshd: saves, deletes, renames, safety,
/// reconnection through a proxy that cuts and refuses.
@Suite(.serialized) struct WatchEngineTests {
    /// A running WatchEngine over a SyncLab, stopped by `stop()`.
    final class Running: Sendable {
        let lab: SyncLab
        let local: String
        let remote: String
        let events = LineSink()
        /// The engine's debug log (the batches it applied), for failure messages.
        let trace = LineSink()
        let engine: WatchEngine
        let task: Task<Void, Error>

        /// - Parameter silent: poll once an hour, so that only batches a test injects with
        ///   `inject` reach the engine (to reproduce an exact batch and lag).
        init(lab: SyncLab, polling: Bool, silent: Bool = false, port: UInt16? = nil,
             prepare: (String) throws -> Void = { _ in }) throws {
            self.lab = lab
            local = try lab.makeDirectory("local-\(UUID().uuidString.prefix(6))")
            remote = lab.path("remote-\(UUID().uuidString.prefix(6))")
            try prepare(local)
            var options = WatchOptions()
            options.forcePolling = polling || silent
            options.pollInterval = silent ? .seconds(3600) : .milliseconds(50)
            options.stateDirectory = lab.path("state")
            options.reconnectDelays = [0.1, 0.2, 0.3]
            let sink = events
            let status = WatchStatus(mode: .plain, output: { sink.append($0) })
            let trace = self.trace
            let engine = WatchEngine(localRoot: local, remoteRoot: remote, options: options,
                                     filter: ExclusionFilter(root: local, excludes: []), status: status,
                                     logger: Logger(label: "watch-test", factory: { _ in SinkLogHandler(sink: trace) })) {
                try await lab.connect(port: port, channels: 2)
            }
            self.engine = engine
            task = Task { try await engine.run() }
        }

        /// Waits until the initial sync is done and the watch is idle.
        func started() async -> Bool {
            await eventually { events.lines.contains { $0.contains("watching") } && engine.queue.idleState.idle }
        }

        /// Hands `batch` to the engine as one batch and waits until it was applied.
        func inject(_ batch: [ChangeEvent]) async -> Bool {
            let before = engine.queue.idleState.applied
            engine.queue.add(batch)
            return await eventually {
                let state = engine.queue.idleState
                return state.idle && state.applied > before
            }
        }

        /// How many "sent PATH" lines the watch printed.
        func sendCount(_ path: String) -> Int {
            events.lines.filter { $0.contains(" sent \(path) (") }.count
        }

        func stop() async {
            task.cancel()
            _ = try? await task.value
        }

        /// Waits (up to `seconds`) until `condition` holds; false on timeout.
        func eventually(_ seconds: Double = 15, _ condition: () -> Bool) async -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if condition() { return true }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return condition()
        }

        func remoteText(_ path: String) -> String? {
            try? String(contentsOfFile: remote + "/" + path, encoding: .utf8)
        }

        func write(_ path: String, _ text: String) throws {
            try Data(text.utf8).write(to: URL(fileURLWithPath: local + "/" + path))
        }
    }

    @Test(arguments: [false, true]) func savesDeletesAndRenamesArrive(polling: Bool) async throws {
        let lab = try SyncLab()
        let watch = try Running(lab: lab, polling: polling) { local in
            try Data("print('v1')\n".utf8).write(to: URL(fileURLWithPath: local + "/train.py"))
            try FileManager.default.createDirectory(atPath: local + "/pkg", withIntermediateDirectories: true)
            try Data("x = 1\n".utf8).write(to: URL(fileURLWithPath: local + "/pkg/mod.py"))
        }
        #expect(await watch.eventually { watch.remoteText("train.py") == "print('v1')\n" }, "initial sync")

        for version in 2...6 {
            try watch.write("train.py", "print('v\(version)')\n")
            #expect(await watch.eventually { watch.remoteText("train.py") == "print('v\(version)')\n" }, "save \(version)")
        }

        // Editor-style save: write a temp, rename over the target.
        try watch.write("train.py~", "print('renamed-over')\n")
        #expect(rename(watch.local + "/train.py~", watch.local + "/train.py") == 0)
        #expect(await watch.eventually { watch.remoteText("train.py") == "print('renamed-over')\n" })

        // A rename is a remote rename: the remote file keeps its identity.
        let inode = try FileManager.default.attributesOfItem(atPath: watch.remote + "/pkg/mod.py")[.systemFileNumber] as? Int
        try FileManager.default.moveItem(atPath: watch.local + "/pkg/mod.py", toPath: watch.local + "/pkg/module.py")
        #expect(await watch.eventually { watch.remoteText("pkg/module.py") == "x = 1\n" && watch.remoteText("pkg/mod.py") == nil })
        if !polling {
            let moved = try FileManager.default.attributesOfItem(atPath: watch.remote + "/pkg/module.py")[.systemFileNumber] as? Int
            #expect(inode == moved, "inotify renames must move the remote file, not re-upload it")
        }

        // A new directory with contents, then a directory rename, then a delete.
        try FileManager.default.createDirectory(atPath: watch.local + "/data/a/b", withIntermediateDirectories: true)
        try watch.write("data/a/b/deep.txt", "deep\n")
        #expect(await watch.eventually { watch.remoteText("data/a/b/deep.txt") == "deep\n" })
        try FileManager.default.moveItem(atPath: watch.local + "/data", toPath: watch.local + "/dataset")
        #expect(await watch.eventually { watch.remoteText("dataset/a/b/deep.txt") == "deep\n" && watch.remoteText("data/a/b/deep.txt") == nil })
        try FileManager.default.removeItem(atPath: watch.local + "/dataset")
        #expect(await watch.eventually { !FileManager.default.fileExists(atPath: watch.remote + "/dataset") })

        // Ignored files never travel.
        try FileManager.default.createDirectory(atPath: watch.local + "/__pycache__", withIntermediateDirectories: true)
        try watch.write("__pycache__/x.pyc", "junk")
        try watch.write(".train.py.swp", "swap")
        try watch.write("after.txt", "marker\n")
        #expect(await watch.eventually { watch.remoteText("after.txt") == "marker\n" })
        #expect(!FileManager.default.fileExists(atPath: watch.remote + "/__pycache__"))
        #expect(!FileManager.default.fileExists(atPath: watch.remote + "/.train.py.swp"))
        await watch.stop()
        let leftovers = FileManager.default.enumerator(atPath: watch.remote)?.allObjects.compactMap { $0 as? String }
            .filter { ($0 as NSString).lastPathComponent.hasPrefix(".muxsync.") } ?? []
        #expect(leftovers.isEmpty, "spare temp files must be removed on stop: \(leftovers)")
    }

    @Test func emptiedLocalDirectoryDoesNotEmptyTheRemote() async throws {
        let lab = try SyncLab()
        let watch = try Running(lab: lab, polling: false) { local in
            for index in 0..<5 { try Data("f\(index)".utf8).write(to: URL(fileURLWithPath: local + "/f\(index).txt")) }
        }
        #expect(await watch.eventually { watch.remoteText("f4.txt") == "f4" })
        for index in 0..<5 { try FileManager.default.removeItem(atPath: watch.local + "/f\(index).txt") }
        #expect(await watch.eventually { watch.events.lines.contains { $0.contains("not deleting") } })
        #expect(watch.remoteText("f0.txt") == "f0")
        await watch.stop()
    }

    @Test func changesMadeWhileDisconnectedArriveAfterReconnect() async throws {
        let lab = try SyncLab()
        let proxy = try lab.makeProxy()
        let watch = try Running(lab: lab, polling: false, port: proxy.port) { local in
            try Data("start\n".utf8).write(to: URL(fileURLWithPath: local + "/a.txt"))
            try Data("doomed\n".utf8).write(to: URL(fileURLWithPath: local + "/b.txt"))
        }
        #expect(await watch.eventually { watch.remoteText("b.txt") == "doomed\n" })
        proxy.refuseNew = true
        proxy.cutAll()
        try watch.write("a.txt", "written while cut\n")
        try watch.write("c.txt", "new while cut\n")
        try FileManager.default.removeItem(atPath: watch.local + "/b.txt")
        #expect(await watch.eventually { watch.events.lines.contains { $0.contains("connection lost") } })
        try await Task.sleep(for: .milliseconds(500))
        proxy.refuseNew = false
        #expect(await watch.eventually(30) {
            watch.remoteText("a.txt") == "written while cut\n" && watch.remoteText("c.txt") == "new while cut\n"
                && watch.remoteText("b.txt") == nil
        })
        #expect(watch.events.lines.contains { $0.contains("connected") })
        await watch.stop()
    }

    @Test func remoteConflictIsReportedNotOverwritten() async throws {
        let lab = try SyncLab()
        let watch = try Running(lab: lab, polling: false) { local in
            try Data("mine v1\n".utf8).write(to: URL(fileURLWithPath: local + "/shared.txt"))
        }
        #expect(await watch.eventually { watch.remoteText("shared.txt") == "mine v1\n" })
        try watch.write("shared.txt", "mine v2\n")
        #expect(await watch.eventually { watch.remoteText("shared.txt") == "mine v2\n" })
        try Data("theirs, a longer line\n".utf8).write(to: URL(fileURLWithPath: watch.remote + "/shared.txt"))
        try watch.write("shared.txt", "mine v3\n")
        #expect(await watch.eventually { watch.events.lines.contains { $0.contains("conflict") } })
        #expect(watch.remoteText("shared.txt") == "theirs, a longer line\n")
        await watch.stop()
    }
}

/// A log handler that writes every line (debug and up) into a LineSink.
struct SinkLogHandler: LogHandler {
    let sink: LineSink
    var logLevel: Logger.Level = .debug
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        sink.append("\(level) \(message)\n")
    }
}
