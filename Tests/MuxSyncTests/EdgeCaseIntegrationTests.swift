// Edge cases met in real projects: a remote root that is a symlink to a directory, a local
// directory removed while its remote copy still holds ignored files (__pycache__), and
// mtimes SFTP v3 cannot carry (before 1970, after 2106).

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
struct EdgeCaseIntegrationTests {
    static let t0: Int64 = 1_720_000_000

    // MARK: Symlinked remote root

    @Test
    func remoteRootMayBeASymlinkToADirectory() async throws {
        let lab = try SyncLab()
        let local = try lab.makeDirectory("local")
        try Disk.file(local + "/a.txt", "alpha", mtime: Self.t0)
        let real = try lab.makeDirectory("data/project")
        let link = lab.path("project-link")
        try Disk.symlink(link, to: real)

        var pushError: Error?
        do {
            let report = try await lab.push(local, to: link)
            #expect(report.failures.isEmpty, "\(report.failures)")
        } catch {
            pushError = error
        }
        #expect(pushError == nil, "push into a symlinked remote directory: \(String(describing: pushError))")
        #expect(Disk.lstatIfExists(link).map { $0.st_mode & S_IFMT == S_IFLNK } == true, "the link itself must stay")

        try Disk.file(real + "/b.txt", "bravo", mtime: Self.t0)
        var pullError: Error?
        let back = lab.path("back")
        do {
            let report = try await lab.pull(link, into: back)
            #expect(report.failures.isEmpty, "\(report.failures)")
        } catch {
            pullError = error
        }
        #expect(pullError == nil, "pull from a symlinked remote directory: \(String(describing: pullError))")
        #expect(Disk.exists(back + "/b.txt"))
    }

    // MARK: Ignored files inside a removed directory

    @Test
    func removedDirectoryWithIgnoredRemoteContentDoesNotFailThePush() async throws {
        let lab = try SyncLab()
        let local = try lab.makeDirectory("local")
        try Disk.file(local + "/main.py", "import pkg\n", mtime: Self.t0)
        try Disk.directory(local + "/pkg")
        try Disk.file(local + "/pkg/__init__.py", "", mtime: Self.t0)
        let remote = lab.path("remote")
        _ = try await lab.push(local, to: remote)
        // Running the code on the remote leaves byte-code caches (ignored by default).
        try Disk.directory(remote + "/pkg/__pycache__")
        try Disk.file(remote + "/pkg/__pycache__/__init__.cpython-312.pyc", "bytecode")

        try Disk.remove(local + "/pkg")
        var options = PushOptions()
        options.delete = true
        let report = try await lab.push(local, to: remote, options: options)
        #expect(report.failures.isEmpty, "removing pkg/ locally makes every push --delete fail: \(report.failures)")
        // Ignored content is never deleted.
        #expect(Disk.exists(remote + "/pkg/__pycache__/__init__.cpython-312.pyc"))
        #expect(!Disk.exists(remote + "/pkg/__init__.py"))
    }

    // MARK: Times SFTP v3 cannot carry

    @Test(arguments: [Int64(-86_400), Int64(5_000_000_000)])
    func unrepresentableMtimeIsNotResentForever(mtime: Int64) async throws {
        let lab = try SyncLab()
        let local = try lab.makeDirectory("local")
        try Disk.file(local + "/odd-time.txt", "time travel", mtime: mtime)
        try Disk.file(local + "/normal.txt", "normal", mtime: Self.t0)
        let remote = lab.path("remote")
        let first = try await lab.push(local, to: remote)
        #expect(first.failures.isEmpty, "\(first.failures)")
        #expect(try Disk.read(remote + "/odd-time.txt") == Data("time travel".utf8))

        let second = try await lab.push(local, to: remote)
        #expect(second.filesSent == 0, "a file with mtime \(mtime) is uploaded again on every push")
        #expect(second.plan.isEmpty, "\(second.plan.allActions.map(\.description))")
    }
}
