#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import MuxTransport

// MARK: - Local file-system helpers for pull

enum LocalDirectories {
    /// mkdir -p; fails when a component exists and is not a directory.
    static func make(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw SyncError.localNotADirectory(path) }
            return
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
}

enum LocalLinks {
    /// Creates (or re-points) a local symlink for a remote one, atomically.
    /// The link is never followed; its parents are checked for symlinks.
    static func place(_ entry: TreeEntry, under root: String) throws {
        guard case .symlink(let target) = entry.kind else { return }
        let path = try SafePath.checkedJoin(root: root, relative: entry.path)
        if let existing = try? FileManager.default.destinationOfSymbolicLink(atPath: path), existing == target { return }
        let temporary = RemotePath.join(ByteExact.parent(of: path), TemporaryName.upload(for: RemotePath.name(path)))
        guard symlink(target, temporary) == 0 else { throw LocalIOError(path: path, operation: "create symlink", errno: errno) }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw LocalIOError(path: path, operation: "place symlink", errno: code)
        }
    }

    static func setMtime(_ path: String, _ mtime: Int64) {
        var times = [timespec(tv_sec: time_t(mtime), tv_nsec: 0), timespec(tv_sec: time_t(mtime), tv_nsec: 0)]
        _ = utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
    }

    /// Removes partial downloads of older versions of the files about to be fetched
    /// into `directory` (`current`: each file's name -> the partial name of the version
    /// to fetch, kept). One listing per directory: a listing per file made a pull
    /// quadratic in the size of its directories.
    static func removeStalePartials(in directory: String, keeping current: [(name: String, partial: String)]) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        let partials = names.filter { TemporaryName.isTemporary($0) && !$0.hasSuffix(TemporaryName.uploadSuffix) }
        guard !partials.isEmpty else { return }
        for (name, keep) in current {
            for candidate in partials where TemporaryName.isPartial(candidate, of: name)
                && !ByteExact.equal(candidate, keep) && !ByteExact.equal(candidate, keep + TemporaryName.offsetSuffix) {
                unlink(RemotePath.join(directory, candidate))
            }
        }
    }
}

// MARK: - Where a partial download may resume

/// A side file holding the length of the complete, durable prefix of a
/// partial download. It is advanced at most every 32 MiB, after an fdatasync
/// of the data, so it never claims bytes that a crash could lose.
final class ResumeMarker: @unchecked Sendable {
    private let path: String
    private let fd: Int32
    private let state = Locked((durable: UInt64(0), pending: UInt64(0)))
    private static let step: UInt64 = 32 << 20

    init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
        let start = Self.load(path)
        state.withLock { $0 = (start, start) }
    }

    /// The offset to resume from (0 when there is no valid marker).
    func read() -> UInt64 { state.withLock { $0.durable } }

    func advance(to offset: UInt64) {
        let due = state.withLock { s -> Bool in
            s.pending = max(s.pending, offset)
            return s.pending >= s.durable + Self.step
        }
        if due { flush() }
    }

    /// Makes the data durable, then records the prefix. `final`: the download has stopped
    /// (no write is in flight), so on a full disk the partial may be cut back to make room
    /// for the marker: first what lies past the prefix (fetched again anyway), then, if
    /// that frees nothing, up to 64 KiB of the prefix itself.
    func flush(final: Bool = false) {
        let (target, durable) = state.withLock { ($0.pending, $0.durable) }
        guard target > durable else { return }
        #if canImport(Darwin)
        guard fsync(fd) == 0 else { return }
        #else
        guard fdatasync(fd) == 0 else { return }
        #endif
        var recorded = target
        var failure = store(recorded)
        if failure != 0 && final && LocalSpace.isFull(failure) && ftruncate(fd, off_t(recorded)) == 0 {
            failure = store(recorded)
            if failure != 0 && LocalSpace.isFull(failure) {
                recorded = max(durable, (recorded - min(recorded, 64 << 10)) & ~4095)
                guard recorded > durable, ftruncate(fd, off_t(recorded)) == 0 else { return }
                failure = store(recorded)
            }
        }
        guard failure == 0 else { return }
        state.withLock { $0.durable = max($0.durable, recorded) }
    }

    /// Writes "OFFSET CHECK" to a temporary beside the marker and renames it over;
    /// returns 0 or the errno of the step that failed.
    private func store(_ offset: UInt64) -> Int32 {
        let bytes = Array("\(offset) \(offset ^ 0x6d75_7873_796e_6321)\n".utf8)
        let temporary = path + ".new"
        let out = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard out >= 0 else { return errno }
        let written = bytes.withUnsafeBytes { write(out, $0.baseAddress, $0.count) }
        let writeError = written == bytes.count ? 0 : (written < 0 ? errno : ENOSPC)
        close(out)
        if writeError == 0 && rename(temporary, path) == 0 { return 0 }
        let failure = writeError != 0 ? writeError : errno
        unlink(temporary)
        return failure
    }

    func remove() { unlink(path) }

    /// "OFFSET CHECK": the check guards against a torn or foreign file.
    private static func load(_ path: String) -> UInt64 {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count == 2, let offset = UInt64(fields[0]), let check = UInt64(fields[1]),
              check == offset ^ 0x6d75_7873_796e_6321 else { return 0 }
        return offset
    }
}
