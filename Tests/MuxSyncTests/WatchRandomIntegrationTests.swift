// Random local operations (the model's: create, modify, delete, rename files and
// directories, mkdir, rm -rf, log and directory rotation) done on disk while a real watch
// runs against the lab sshd, with random pauses (so batches coalesce differently) and a
// delaying proxy (so the engine lags behind the tree). The remote must end equal to the
// local tree: same paths, kinds and contents.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MuxTestSupport
import Testing
@testable import MuxSync

/// Replays a model script's observations on disk.
struct WatchDiskReplay {
    let root: String
    private var counter = 0

    init(root: String) { self.root = root }

    /// Does what `observation` reports; false when the file system refused.
    mutating func perform(_ observation: ChangeCoalescer.Observation) -> Bool {
        switch observation {
        case .created(let path, let isDirectory):
            if isDirectory { return mkdir(root + "/" + path, 0o755) == 0 }
            let fd = open(root + "/" + path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { return false }
            close(fd)
            return true
        case .modified(let path):
            counter += 1
            let text = String(repeating: "\(path) version \(counter)\n", count: 1 + counter % 7)
            return FileManager.default.createFile(atPath: root + "/" + path, contents: Data(text.utf8))
        case .removed(let path, let isDirectory):
            return (isDirectory ? rmdir(root + "/" + path) : unlink(root + "/" + path)) == 0
        case .renamed(let from, let to, _):
            return rename(root + "/" + from, root + "/" + to) == 0
        case .rescan:
            return true
        }
    }
}

@Suite(.serialized) struct WatchRandomIntegrationTests {
    @Test(arguments: [false, true]) func randomOperationsEndWithTheRemoteEqualToTheTree(polling: Bool) async throws {
        let lab = try SyncLab()
        let proxy = try lab.makeProxy()
        defer { proxy.stop() }
        var failures: [String] = []
        // WATCH_SEQUENCES=N runs N sequences per source instead of 5 (a longer soak).
        let count = ProcessInfo.processInfo.environment["WATCH_SEQUENCES"].flatMap { UInt64($0) } ?? 5
        for seed in UInt64(1)...count {
            var rng = SeededGenerator(seed: seed &* 7919 &+ (polling ? 1 : 0))
            var script = WatchModelScript()
            script.rotations = true
            for _ in 0..<6 { script.randomOperation(&rng) }
            let initial = script.observations
            script.observations = []
            let watch = try WatchEngineTests.Running(lab: lab, polling: polling, port: proxy.port) { local in
                var replay = WatchDiskReplay(root: local)
                for observation in initial { _ = replay.perform(observation) }
                // never touched: the root never looks emptied (deletes would be refused)
                try Data("anchor\n".utf8).write(to: URL(fileURLWithPath: local + "/anchor.txt"))
            }
            #expect(await watch.started(), "seed \(seed): the watch did not start")
            proxy.delay = Double(rng.next() % 15) / 1000  // the engine lags behind the tree
            var replay = WatchDiskReplay(root: watch.local)
            var refused: [String] = []
            for _ in 0..<(15 + Int(rng.next() % 20)) {
                let before = script.observations.count
                script.randomOperation(&rng)
                for observation in script.observations[before...] where !replay.perform(observation) {
                    refused.append("\(observation)")
                }
                let pause = rng.next() % 4
                if pause > 0 { try await Task.sleep(for: .milliseconds(Int(pause) * 8)) }
            }
            #expect(refused.isEmpty, "seed \(seed): the file system refused \(refused)")
            let filter = ExclusionFilter(root: watch.local, excludes: [])
            let converged = await watch.eventually(30) {
                WatchTreeImage.of(watch.local, filter: filter) == WatchTreeImage.of(watch.remote)
            }
            if !converged {
                failures.append("seed \(seed): "
                    + WatchTreeImage.difference(WatchTreeImage.of(watch.local, filter: filter), WatchTreeImage.of(watch.remote))
                    + "\n  watch said: " + watch.events.lines.suffix(20).joined(separator: "\n    ")
                    + "\n  batches: " + watch.trace.lines.filter { $0.contains("applying") }.joined(separator: "\n    "))
            }
            // Nobody else writes the remote: no failure, no conflict.
            let complaints = watch.events.lines.filter { $0.contains("error") || $0.contains("conflict") }
            #expect(complaints.isEmpty, "seed \(seed): \(complaints)")
            proxy.delay = 0
            await watch.stop()
            let leftovers = FileManager.default.enumerator(atPath: watch.remote)?.allObjects.compactMap { $0 as? String }
                .filter { ($0 as NSString).lastPathComponent.hasPrefix(".muxsync.") } ?? []
            #expect(leftovers.isEmpty, "seed \(seed): temporary files left on the remote: \(leftovers)")
        }
        #expect(failures.isEmpty, "\(failures.count) of \(count) sequences did not converge:\n\(failures.joined(separator: "\n"))")
    }
}
