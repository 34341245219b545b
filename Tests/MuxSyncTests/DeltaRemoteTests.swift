import Foundation
import Logging
import MuxTestSupport
import Testing
@testable import MuxSync
@testable import MuxTransport

/// The delta path end to end against a real sshd: rebuilds with copy-data,
/// conflicts, lost state, servers without copy-data, in-place mode.
@Suite(.serialized) struct DeltaRemoteTests {
    /// A lab sshd, a local and a remote root on this machine, and a private state dir.
    final class Bench: Sendable {
        let server: SSHDServer
        let local: String
        let remote: String
        let state: String

        init(sftpServerArguments: [String] = []) throws {
            server = try SSHDServer.start(sftpServerArguments: sftpServerArguments)
            let base = NSTemporaryDirectory() + "muxsync-delta-\(UUID().uuidString)"
            local = base + "/local"
            remote = base + "/remote"
            state = base + "/state"
            try FileManager.default.createDirectory(atPath: local, withIntermediateDirectories: true)
        }

        func push(force: Bool = false, inPlace: Bool = false, delete: Bool = false, verify: Bool = false) async throws -> PushReport {
            let target = SSHTarget(alias: "lab", hostName: server.host, port: Int(server.port), user: server.user,
                                   identityFiles: [server.clientKeyPath], identitiesOnly: true,
                                   knownHostsFiles: [server.knownHostsPath])
            let session = try await SSHSession.connect(to: target, options: ConnectOptions(agentSocket: nil))
            let client = try await SFTPClient.open(on: session, channels: 2)
            var options = PushOptions()
            options.stateDirectory = state
            options.force = force
            options.inPlace = inPlace
            options.delete = delete
            options.verify = verify
            let filter = ExclusionFilter(root: local, excludes: [])
            let report: PushReport
            do {
                report = try await PushJob(localRoot: local, remoteRoot: remote, client: client, options: options,
                                           isExcluded: filter.walkPredicate, progress: ProgressReporter(mode: .quiet),
                                           logger: Logger(label: "test")).run()
            } catch {
                await session.close()
                throw error
            }
            await session.close()
            return report
        }

        func write(_ name: String, _ bytes: [UInt8]) throws {
            try Data(bytes).write(to: URL(fileURLWithPath: local + "/" + name))
            // A distinct mtime per version, as an editor's save would give.
            let stamp = Date().addingTimeInterval(Double.random(in: 10...100_000))
            try FileManager.default.setAttributes([.modificationDate: stamp], ofItemAtPath: local + "/" + name)
        }

        func remoteBytes(_ name: String) throws -> [UInt8] {
            try [UInt8](Data(contentsOf: URL(fileURLWithPath: remote + "/" + name)))
        }
    }

    /// One random edit of the kinds the engine must find.
    static func edit(_ data: [UInt8], _ rng: inout SeededGenerator) -> [UInt8] {
        var bytes = data
        let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &rng)
        switch Int.random(in: 0..<7, using: &rng) {
        case 0: bytes.insert(contentsOf: rng.bytes(Int.random(in: 1...5000, using: &rng)), at: position)
        case 1: bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...20_000, using: &rng)))
        case 2:
            let end = min(bytes.count, position + Int.random(in: 1...3000, using: &rng))
            bytes.replaceSubrange(position..<end, with: rng.bytes(end - position))
        case 3:  // move a range elsewhere
            let end = min(bytes.count, position + Int.random(in: 1...50_000, using: &rng))
            let moved = Array(bytes[position..<end])
            bytes.removeSubrange(position..<end)
            bytes.insert(contentsOf: moved, at: bytes.isEmpty ? 0 : Int.random(in: 0...bytes.count, using: &rng))
        case 4: bytes += rng.bytes(Int.random(in: 1...70_000, using: &rng))
        case 5: bytes.removeSubrange(min(bytes.count, position + 1)...)
        default: bytes.insert(contentsOf: rng.bytes(700), at: (position / 700) * 700)  // on a block boundary
        }
        return bytes
    }

    @Test(arguments: [1, 2, 3]) func randomEditsRebuildExactlyOnTheRemote(seed: UInt64) async throws {
        let bench = try Bench()
        var rng = SeededGenerator(seed: seed)
        var content = rng.bytes(Int.random(in: 200_000...1_500_000, using: &rng))
        try bench.write("data.bin", content)
        let first = try await bench.push()
        #expect(first.filesSent == 1 && first.deltaFiles == 0)
        #expect(try bench.remoteBytes("data.bin") == content)
        for step in 0..<6 {
            content = Self.edit(content, &rng)
            try bench.write("data.bin", content)
            let report = try await bench.push(verify: step % 2 == 0)
            #expect(report.failures.isEmpty, "step \(step): \(report.failures)")
            #expect(try bench.remoteBytes("data.bin") == content, "seed \(seed) step \(step)")
            if content.count >= 64 << 10 {
                #expect(report.deltaFiles == 1, "seed \(seed) step \(step) should go as a delta")
            }
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: bench.remote).filter { $0.hasPrefix(".muxsync.") }
        #expect(leftovers.isEmpty)
    }

    @Test func midFileInsertSendsLittle() async throws {
        let bench = try Bench()
        var rng = SeededGenerator(seed: 42)
        var content = rng.bytes(8 << 20)
        try bench.write("big.bin", content)
        _ = try await bench.push()
        content.insert(contentsOf: Array(repeating: 0x41, count: 100), at: 4 << 20 + 123)
        try bench.write("big.bin", content)
        let report = try await bench.push()
        #expect(report.deltaFiles == 1)
        #expect(report.bytesSent < 20_000, "literal bytes: \(report.bytesSent)")
        #expect(report.wireBytes < 100_000, "wire bytes: \(report.wireBytes)")
        #expect(try bench.remoteBytes("big.bin") == content)
    }

    @Test func remoteChangeIsAConflictUnlessForced() async throws {
        let bench = try Bench()
        var rng = SeededGenerator(seed: 7)
        try bench.write("shared.txt", rng.bytes(1000))
        _ = try await bench.push()
        let theirs = Array("edited on the server\n".utf8)
        try Data(theirs).write(to: URL(fileURLWithPath: bench.remote + "/shared.txt"))
        try bench.write("shared.txt", rng.bytes(1200))
        let report = try await bench.push()
        #expect(report.conflicts == 1)
        #expect(report.failures.contains { $0.contains("shared.txt") && $0.contains("--force") })
        #expect(try bench.remoteBytes("shared.txt") == theirs, "a conflicting remote file must be left alone")

        // Deleting it locally does not delete the changed remote file either.
        let forced = try await bench.push(force: true)
        #expect(forced.conflicts == 0 && forced.filesSent == 1)
        #expect(try bench.remoteBytes("shared.txt") != theirs)
        try Data(theirs).write(to: URL(fileURLWithPath: bench.remote + "/shared.txt"))
        try FileManager.default.removeItem(atPath: bench.local + "/shared.txt")
        try bench.write("keep.txt", [1, 2, 3])
        let deleting = try await bench.push(delete: true)
        #expect(deleting.conflicts == 1)
        #expect(FileManager.default.fileExists(atPath: bench.remote + "/shared.txt"))
    }

    @Test func lostOrCorruptStateOnlyCostsAFullTransfer() async throws {
        let bench = try Bench()
        var rng = SeededGenerator(seed: 9)
        // Edits in the middle keep the file above the delta threshold (a random one may not).
        var content = rng.bytes(600_000)
        try bench.write("model.py", content)
        _ = try await bench.push()

        try FileManager.default.removeItem(atPath: bench.state)
        content.replaceSubrange(100_000..<100_100, with: rng.bytes(100))
        try bench.write("model.py", content)
        let afterLoss = try await bench.push()
        #expect(afterLoss.deltaFiles == 0 && afterLoss.filesSent == 1)
        #expect(try bench.remoteBytes("model.py") == content)

        // Garbage in the index: a warning, a full transfer, correct data.
        let index = try #require(FileManager.default.enumerator(atPath: bench.state)?.allObjects
            .compactMap { $0 as? String }.first { $0.hasSuffix("/index") })
        try Data("not an index at all".utf8).write(to: URL(fileURLWithPath: bench.state + "/" + index))
        content.replaceSubrange(100_000..<100_100, with: rng.bytes(100))
        try bench.write("model.py", content)
        let afterCorruption = try await bench.push()
        #expect(afterCorruption.deltaFiles == 0)
        #expect(afterCorruption.warnings.contains { $0.contains("state index") })
        #expect(try bench.remoteBytes("model.py") == content)

        // And the next change goes as a delta again.
        content.replaceSubrange(100_000..<100_100, with: rng.bytes(100))
        try bench.write("model.py", content)
        let recovered = try await bench.push()
        #expect(recovered.deltaFiles == 1)
        #expect(try bench.remoteBytes("model.py") == content)
    }

    @Test func serverRefusingCopyDataFallsBackToWholeFiles() async throws {
        let bench = try Bench(sftpServerArguments: ["-P", "copy-data"])
        var rng = SeededGenerator(seed: 11)
        var content = rng.bytes(500_000)
        try bench.write("w.bin", content)
        _ = try await bench.push()
        content = Self.edit(content, &rng)
        try bench.write("w.bin", content)
        let report = try await bench.push()
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(report.deltaFiles == 0)
        #expect(try bench.remoteBytes("w.bin") == content)
    }

    @Test func inPlaceAppendWritesIntoTheSameFile() async throws {
        let bench = try Bench()
        var rng = SeededGenerator(seed: 13)
        var content = rng.bytes(3 << 20)
        try bench.write("log.bin", content)
        _ = try await bench.push()
        let inodeBefore = try FileManager.default.attributesOfItem(atPath: bench.remote + "/log.bin")[.systemFileNumber] as? Int
        content += rng.bytes(1 << 20)
        try bench.write("log.bin", content)
        let report = try await bench.push(inPlace: true)
        #expect(report.deltaFiles == 1)
        #expect(report.bytesSent <= (1 << 20) + 200_000)
        #expect(try bench.remoteBytes("log.bin") == content)
        let inodeAfter = try FileManager.default.attributesOfItem(atPath: bench.remote + "/log.bin")[.systemFileNumber] as? Int
        #expect(inodeBefore == inodeAfter, "--inplace keeps the remote file (same inode)")
    }
}
