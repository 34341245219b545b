import Foundation
import MuxSFTPWire
import MuxTestSupport
import Testing
@testable import MuxTransport

/// Every SFTP operation muxsync uses, against a real sftp-server.
@Suite(.serialized) struct SFTPOperationTests {
    /// One server and one session for the suite's cases.
    final class Lab: Sendable {
        let server: SSHDServer
        let session: SSHSession
        let client: SFTPClient
        let root: String

        init() async throws {
            server = try SSHDServer.start()
            session = try await TestTargets.connect(TestTargets.direct(server))
            client = try await SFTPClient.open(on: session, channels: 3)
            root = try TestTargets.scratchDirectory()
        }
    }

    @Test func serverAnnouncesExtensionsAndLimits() async throws {
        let lab = try await Lab()
        for name in ["posix-rename@openssh.com", "fsync@openssh.com", "limits@openssh.com", "statvfs@openssh.com",
                     "hardlink@openssh.com", "copy-data"] {
            #expect(lab.client.supports(name), "missing \(name)")
        }
        #expect(lab.client.limits.maxWriteLength == 261_120)
        #expect(lab.client.limits.writeChunkLength(handleLength: 4) + SFTPCodec.writeOverhead(handleLength: 4) - 4
                    <= Int(lab.client.limits.maxPacketLength))
        let channels = await lab.client.allChannels()
        #expect(channels.count == 3)
        await lab.session.close()
    }

    @Test func fileLifecycle() async throws {
        let lab = try await Lab()
        let channel = lab.client.primary
        let path = lab.root + "/a.txt"
        let handle = try await channel.open(path, flags: [.write, .create, .exclusive], attributes: SFTPAttributes(permissions: 0o600))
        try await channel.write(handle, offset: 0, data: Array("hello ".utf8))
        try await channel.write(handle, offset: 6, data: Array("world".utf8))
        #expect(try await channel.fsync(handle))
        try await channel.fsetstat(handle, SFTPAttributes(permissions: 0o640, atime: 1_000_000, mtime: 1_000_000))
        let attributes = try await channel.fstat(handle)
        #expect(attributes.size == 11)
        #expect(attributes.modeBits == 0o640)
        #expect(attributes.mtime == 1_000_000)
        try await channel.close(handle)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "hello world")

        // O_EXCL on an existing file fails with a status, not a crash.
        await #expect(throws: SFTPError.self) {
            _ = try await channel.open(path, flags: [.write, .create, .exclusive])
        }

        let reader = try await channel.open(path, flags: [.read])
        #expect(try await channel.read(reader, offset: 6, length: 100) == Array("world".utf8))
        #expect(try await channel.read(reader, offset: 11, length: 100) == nil)
        try await channel.close(reader)

        try await channel.setstat(path, SFTPAttributes(permissions: 0o755))
        #expect(try await channel.stat(path).modeBits == 0o755)
        #expect(try await channel.lstat(path).isRegularFile)
        try await channel.remove(path)
        #expect(try await channel.lstatIfExists(path) == nil)
        await #expect(throws: SFTPError.self) { _ = try await channel.stat(path) }
        await lab.session.close()
    }

    @Test func namesDirectoriesLinksAndRenames() async throws {
        let lab = try await Lab()
        let channel = lab.client.primary
        let dir = lab.root + "/dir"
        try await channel.mkdir(dir, attributes: SFTPAttributes(permissions: 0o750))
        #expect(try await channel.stat(dir).isDirectory)
        for name in ["one", "two", "three with space", "ünïcode"] {
            let h = try await channel.open(dir + "/" + name, flags: [.write, .create])
            try await channel.close(h)
        }
        let listed = try await channel.listDirectory(dir).map(\.filename).sorted()
        #expect(listed == ["one", "three with space", "two", "ünïcode"])

        // posix-rename replaces atomically; plain RENAME would refuse an existing target.
        try await channel.rename(dir + "/one", to: dir + "/two")
        #expect(try await channel.lstatIfExists(dir + "/one") == nil)

        try await channel.symlink(at: dir + "/link", pointingTo: "two")
        #expect(try await channel.lstat(dir + "/link").isSymlink)
        #expect(try await channel.readlink(dir + "/link") == "two")
        #expect(try await channel.realpath(dir + "/../dir/two") == dir + "/two")

        try await channel.hardlink(dir + "/two", to: dir + "/hard")
        #expect(try await channel.stat(dir + "/hard").isRegularFile)

        let space = try await channel.statvfs(dir)
        #expect(space.blockSize > 0)

        // rmdir of a non-empty directory fails with a status.
        await #expect(throws: SFTPError.self) { try await channel.rmdir(dir) }
        for name in try await channel.listDirectory(dir).map(\.filename) { try await channel.remove(dir + "/" + name) }
        try await channel.rmdir(dir)
        #expect(try await channel.lstatIfExists(dir) == nil)
        await lab.session.close()
    }

    @Test func copyDataCopiesServerSide() async throws {
        let lab = try await Lab()
        let channel = lab.client.primary
        let source = lab.root + "/source"
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(FileManager.default.createFile(atPath: source, contents: Data(bytes)))
        let input = try await channel.open(source, flags: [.read])
        let output = try await channel.open(lab.root + "/copy", flags: [.write, .create, .truncate])
        let before = lab.session.wireStats
        try await channel.copyData(from: input, offset: 100_000, length: 150_000, to: output, at: 0)
        try await channel.copyData(from: input, offset: 0, length: 100_000, to: output, at: 150_000)
        let after = lab.session.wireStats
        try await channel.close(input)
        try await channel.close(output)
        let copied = try [UInt8](Data(contentsOf: URL(fileURLWithPath: lab.root + "/copy")))
        #expect(copied == Array(bytes[100_000..<250_000]) + Array(bytes[0..<100_000]))
        #expect(after.bytesSent - before.bytesSent < 10_000, "copy-data must not move file bytes over the wire")
        await lab.session.close()
    }

    @Test func manyRequestsInFlightAcrossChannels() async throws {
        let lab = try await Lab()
        let channels = await lab.client.allChannels()
        let count = 3_000
        let results = Locked(0)
        try await pipelined(0..<count, window: 500) { index in
            let channel = channels[index % channels.count]
            let attributes = try await channel.stat(lab.root)
            if attributes.isDirectory { results.withLock { $0 += 1 } }
        }
        #expect(results.withLock { $0 } == count)
        // A batch is answered in order, all at once.
        let replies = try await channels[0].sendBatch((0..<200).map { _ in .lstat(path: lab.root) })
        #expect(replies.count == 200)
        #expect(replies.allSatisfy { if case .attrs = $0 { return true } else { return false } })
        await lab.session.close()
    }

    @Test(arguments: [1, 3]) func bulkTransferRoundTripsExactly(channelCount: Int) async throws {
        let lab = try await Lab()
        let size = 12 << 20 | 12_345  // not a multiple of any chunk size
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: ($0 >> 7) &* 2_654_435_761 >> 11) }
        let local = lab.root + "/local.bin"
        #expect(FileManager.default.createFile(atPath: local, contents: Data(bytes)))
        var tuning = TransferTuning()
        tuning.maxChannels = channelCount
        let fd = open(local, O_RDONLY)
        defer { close(fd) }
        let sent = try await lab.client.upload(fd: fd, localPath: local, length: UInt64(size), to: lab.root + "/remote.bin",
                                               permissions: 0o644, tuning: tuning)
        #expect(sent == UInt64(size))
        #expect(try Data(contentsOf: URL(fileURLWithPath: lab.root + "/remote.bin")) == Data(bytes))

        let back = lab.root + "/back.bin"
        let out = open(back, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { close(out) }
        let marks = Locked([UInt64]())
        let received = try await lab.client.download(lab.root + "/remote.bin", length: UInt64(size), into: out, localPath: back,
                                                     tuning: tuning, watermark: { mark in marks.withLock { $0.append(mark) } })
        #expect(received == UInt64(size))
        #expect(try Data(contentsOf: URL(fileURLWithPath: back)) == Data(bytes))
        let seen = marks.withLock { $0 }
        #expect(seen.last == UInt64(size))
        #expect(seen == seen.sorted())
        await lab.session.close()
    }

    /// A file small enough for one READ (sent together with its CLOSE): it arrives exactly,
    /// and one that shrank after it was listed fails with a message that says so, whether it
    /// is now empty or holds a prefix (read, then asked again for the rest over a new handle).
    @Test func smallFilesComeInOneReadAndAShrunkOneFails() async throws {
        let lab = try await Lab()
        let remote = lab.root + "/small.bin"
        let bytes = (0..<5_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(FileManager.default.createFile(atPath: remote, contents: Data(bytes)))

        func fetch(length: Int) async throws -> [UInt8] {
            let back = lab.root + "/back-\(length).bin"
            let out = open(back, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            defer { close(out) }
            _ = try await lab.client.download(remote, length: UInt64(length), into: out, localPath: back)
            return [UInt8](try Data(contentsOf: URL(fileURLWithPath: back)))
        }
        #expect(try await fetch(length: bytes.count) == bytes)
        // Listed longer than it now is: the prefix comes, then the rest is missing.
        do {
            _ = try await fetch(length: bytes.count + 100)
            Issue.record("a file shorter than listed must fail")
        } catch {
            #expect("\(error)".contains("shrank"), "\(error)")
        }
        #expect(FileManager.default.createFile(atPath: remote, contents: Data()))
        do {
            _ = try await fetch(length: bytes.count)
            Issue.record("an emptied file must fail")
        } catch {
            #expect("\(error)".contains("shrank"), "\(error)")
        }
        // Every request was answered (the CLOSE sent with the READ included).
        #expect(try await lab.client.primary.inFlight() == 0)
        await lab.session.close()
    }
}
