// --delete must never wipe a remote by accident: an empty or missing LOCAL_DIR is refused,
// --max-delete is enforced before anything changes, excluded remote paths are left alone,
// and --dry-run changes nothing at all.

import Foundation
import MuxSync
import MuxTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite(.serialized, .timeLimit(.minutes(10)))
struct DeleteSafetyIntegrationTests {
    static let t0: Int64 = 1_680_000_000

    /// A remote tree written directly on disk (not by muxsync).
    static func plantRemote(_ lab: SyncLab) throws -> String {
        let remote = try lab.makeDirectory("remote")
        try Disk.file(remote + "/keep.txt", "keep", mtime: t0)
        for i in 1...4 { try Disk.file(remote + "/old\(i).txt", "old \(i)", mtime: t0) }
        try Disk.directory(remote + "/old-dir")
        try Disk.file(remote + "/old-dir/x.txt", "x", mtime: t0)
        try SampleTree.setDirectoryTimes(remote)
        return remote
    }

    /// Runs `body` and returns what it threw (nil when it did not throw).
    static func thrown(_ body: () async throws -> Void) async -> Error? {
        do { try await body() } catch { return error }
        return nil
    }

    // MARK: Empty or missing source

    @Test func deleteWithEmptyLocalIsRefused() async throws {
        let lab = try SyncLab()
        let remote = try Self.plantRemote(lab)
        let before = try TreeSnapshot(remote)
        var options = PushOptions()
        options.delete = true

        let empty = try lab.makeDirectory("empty")
        let error = await Self.thrown { _ = try await lab.push(empty, to: remote, options: options) }
        #expect(error as? PushPlanError == .deleteWithEmptySource, "\(String(describing: error))")
        #expect("\(error.map { "\($0)" } ?? "")".contains("--delete"))

        // Only things that are never sent (a FIFO, default-ignored .git) count as empty too.
        let hollow = try lab.makeDirectory("hollow")
        try Disk.fifo(hollow + "/pipe")
        try Disk.directory(hollow + "/.git")
        try Disk.file(hollow + "/.git/HEAD", "ref: refs/heads/main\n")
        let hollowError = await Self.thrown { _ = try await lab.push(hollow, to: remote, options: options) }
        #expect(hollowError as? PushPlanError == .deleteWithEmptySource, "\(String(describing: hollowError))")

        #expect(before.differences(from: try TreeSnapshot(remote), includeCtime: true).isEmpty)
    }

    @Test func deleteWithMissingLocalIsRefused() async throws {
        let lab = try SyncLab()
        let remote = try Self.plantRemote(lab)
        let before = try TreeSnapshot(remote)
        var options = PushOptions()
        options.delete = true

        let error = await Self.thrown { _ = try await lab.push(lab.path("no-such-dir"), to: remote, options: options) }
        #expect(error as? LocalScanError == .rootMissing(lab.path("no-such-dir")), "\(String(describing: error))")
        #expect(before.differences(from: try TreeSnapshot(remote), includeCtime: true).isEmpty)

        // A missing remote is not created for a push that cannot start.
        let fresh = lab.path("fresh-remote")
        _ = await Self.thrown { _ = try await lab.push(lab.path("no-such-dir"), to: fresh, options: options) }
        #expect(!Disk.exists(fresh))
    }

    // MARK: --max-delete

    @Test func maxDeleteIsEnforcedBeforeAnythingChanges() async throws {
        let lab = try SyncLab()
        let remote = try Self.plantRemote(lab)
        let local = try lab.makeDirectory("local")
        try Disk.file(local + "/keep.txt", "keep, edited", mtime: Self.t0 + 5)
        try Disk.file(local + "/new.txt", "new", mtime: Self.t0 + 5)
        let before = try TreeSnapshot(remote)

        var options = PushOptions()
        options.delete = true
        options.maxDelete = 5
        let error = await Self.thrown { _ = try await lab.push(local, to: remote, options: options) }
        guard case .tooManyDeletes(let count, let limit, _)? = error as? PushPlanError else {
            Issue.record("expected tooManyDeletes, got \(String(describing: error))")
            return
        }
        #expect(count == 6)
        #expect(limit == 5)
        let message = "\(error.map { "\($0)" } ?? "")"
        #expect(message.contains("6") && message.contains("--max-delete"), "\(message)")
        // Refused as a whole: not even the upload happened.
        #expect(before.differences(from: try TreeSnapshot(remote), includeCtime: true).isEmpty)
        #expect(!Disk.exists(remote + "/new.txt"))

        options.maxDelete = 6
        let report = try await lab.push(local, to: remote, options: options)
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(report.deleted == 6)
        #expect(try TreeSnapshot(local).differences(from: TreeSnapshot(remote)).isEmpty)
    }

    // MARK: Exclusions

    @Test func excludedRemotePathsAreNotDeleted() async throws {
        let lab = try SyncLab()
        let local = try lab.makeDirectory("local")
        try Disk.file(local + "/.gitignore", "*.log\nbuild/\n", mtime: Self.t0)
        try Disk.directory(local + "/src")
        try Disk.file(local + "/src/.gitignore", "*.tmp\n", mtime: Self.t0)
        try Disk.file(local + "/src/main.c", "int main(void) { return 0; }\n", mtime: Self.t0)
        try SampleTree.setDirectoryTimes(local)

        let remote = try lab.makeDirectory("remote")
        try Disk.directory(remote + "/src")
        try Disk.file(remote + "/src/main.c", "old main", mtime: Self.t0 - 50)
        try Disk.file(remote + "/src/scratch.tmp", "nested .gitignore", mtime: Self.t0)
        try Disk.directory(remote + "/build")
        try Disk.file(remote + "/build/out.o", "object", mtime: Self.t0)
        try Disk.file(remote + "/app.log", "log", mtime: Self.t0)
        try Disk.directory(remote + "/.git")
        try Disk.file(remote + "/.git/HEAD", "ref", mtime: Self.t0)
        try Disk.directory(remote + "/cache")
        try Disk.file(remote + "/cache/blob", "excluded by --exclude", mtime: Self.t0)
        try Disk.file(remote + "/stale.txt", "not excluded: goes", mtime: Self.t0)
        let protected = ["src/scratch.tmp", "build", "build/out.o", "app.log", ".git", ".git/HEAD", "cache", "cache/blob"]
        let before = try TreeSnapshot(remote)

        var options = PushOptions()
        options.delete = true
        let report = try await lab.push(local, to: remote, options: options, excludes: ["cache/"])
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(report.deleted == 1)

        let after = try TreeSnapshot(remote)
        for path in protected {
            #expect(after[path] != nil, "\(path) was deleted although excluded")
            #expect(after[path]?.contents == before[path]?.contents)
        }
        #expect(after["stale.txt"] == nil)
        #expect(after["src/main.c"]?.contents == Data("int main(void) { return 0; }\n".utf8))
        #expect(after[".gitignore"] != nil)
    }

    // MARK: --dry-run

    @Test func dryRunChangesNothing() async throws {
        let lab = try SyncLab()
        let local = try lab.makeDirectory("local")
        let outside = try lab.makeDirectory("outside")
        try SampleTree.build(at: local, outside: outside)
        let remote = lab.path("remote")
        _ = try await lab.push(local, to: remote, useDefaults: false)

        // Every kind of change, then a dry run with --delete.
        try Disk.file(local + "/README.txt", "changed content", mtime: SampleTree.baseTime + 999)
        try Disk.file(local + "/added.txt", "added")
        try Disk.remove(local + "/run.sh")
        try Disk.remove(local + "/links")
        try Disk.file(local + "/links", "now a file")
        guard chmod(local + "/secret.key", 0o644) == 0 else { throw DiskError(path: local, what: "chmod", code: errno) }
        try Disk.file(remote + "/remote-only.txt", "extra")
        let before = try TreeSnapshot(remote)

        var options = PushOptions()
        options.delete = true
        options.dryRun = true
        let sink = LineSink()
        let report = try await lab.push(local, to: remote, options: options, useDefaults: false, sink: sink)
        #expect(!report.plan.isEmpty)
        #expect(report.filesSent == 0 && report.deleted == 0)
        let lines = sink.lines
        #expect(lines.contains { $0.hasPrefix("would upload README.txt") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("would upload added.txt") }, "\(lines)")
        #expect(lines.contains { $0 == "would delete run.sh" }, "\(lines)")
        #expect(lines.contains { $0 == "would delete remote-only.txt" }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("would set attributes of secret.key") }, "\(lines)")
        #expect(lines.allSatisfy { $0.hasPrefix("would ") || $0.hasPrefix("warning") || $0.hasPrefix("skipping") }, "\(lines)")

        let changed = before.differences(from: try TreeSnapshot(remote), includeCtime: true)
        #expect(changed.isEmpty, "dry run touched the remote:\n\(changed.joined(separator: "\n"))")
        #expect(try Disk.temporaries(under: remote).isEmpty)

        // Into a missing remote: it says so and creates nothing.
        let missing = lab.path("missing/remote")
        let missingSink = LineSink()
        _ = try await lab.push(local, to: missing, options: options, useDefaults: false, sink: missingSink)
        #expect(missingSink.lines.contains("would create \(missing)"), "\(missingSink.lines)")
        #expect(!Disk.exists(lab.path("missing")))
    }
}
