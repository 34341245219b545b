#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MuxSFTPWire
import MuxTransport

// MARK: - A save on the remote in two round trips

/// Sends small files with temporary files opened ahead of time, so a save
/// costs two round trips instead of three: (1) WRITE + FSETSTAT + CLOSE of the
/// spare temp file plus an LSTAT of the target, all in one batch; (2) the
/// rename, which waits for (1) because a failed write must never be renamed
/// into place, and because the LSTAT tells whether someone else changed the
/// target (a conflict). After each save a new spare is opened in the background.
public final class QuickSaver: @unchecked Sendable {
    struct Spare: Sendable {
        let handle: SFTPHandle
        let path: String
    }

    public let client: SFTPClient
    public let state: SyncStateStore?
    public var force = false
    /// Files larger than this take the ordinary path.
    public let limit: UInt64 = 1 << 20
    private let spares = Locked([String: Spare]())
    /// Every spare path created or being created and not yet used or removed: after a lost
    /// connection these are removed through the next one.
    private let outstanding = Locked(Set<String>())
    /// Set by `discardAll`: spares still being opened are removed as soon as they exist.
    private let closed = Locked(false)
    /// Spares being opened or discarded right now (discardAll waits for them).
    private let opening = Locked(0)

    public init(client: SFTPClient, state: SyncStateStore?, force: Bool) {
        self.client = client
        self.state = state
        self.force = force
    }

    /// Sends the local file `path` (relative to `localRoot`, opened without following a
    /// symlink anywhere on the way) to `remotePath` if a spare is ready in that remote
    /// directory; returns nil (having sent nothing) when the caller should use the ordinary
    /// path. Opens a spare for next time either way.
    public func save(_ path: String, localRoot: String, remotePath: String) async throws -> UploadResult? {
        let directory = RemotePath.parent(remotePath)
        defer { replenish(directory) }
        guard let spare = spares.withLock({ $0.removeValue(forKey: directory) }) else { return nil }
        let localPath = RemotePath.join(localRoot, path)
        let fd: Int32
        do {
            fd = try LocalTreeStat.open(root: localRoot, relative: path)
        } catch {
            discard(spare)
            throw error
        }
        defer { close(fd) }
        let before = try LocalStat.of(fd: fd, path: localPath)
        guard before.isRegularFile, before.size <= limit else {
            discard(spare)
            return nil
        }
        let bytes = try LocalFile(fd: fd, path: localPath).read(at: 0, count: Int(before.size))
        let channel = spare.handle.channel
        let chunk = channel.limits.writeChunkLength(handleLength: spare.handle.bytes.count)
        var requests: [SFTPRequest] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunk, bytes.count)
            requests.append(.write(handle: spare.handle.bytes, offset: UInt64(offset), data: Array(bytes[offset..<end])))
            offset = end
        }
        let attributes = SFTPAttributes(permissions: before.permissions,
                                        atime: UInt32(clamping: before.mtime), mtime: UInt32(clamping: before.mtime))
        requests += [.fsetstat(handle: spare.handle.bytes, attributes: attributes), .close(handle: spare.handle.bytes),
                     .lstat(path: remotePath)]
        let replies = try await channel.sendBatch(requests)
        do {
            for reply in replies.dropLast() { try SFTPReplyCheck.ok(reply, "write", remotePath) }
            try checkConflict(path, target: replies.last)
            let after = try LocalStat.of(fd: fd, path: localPath)
            guard after == before else { throw UploadError.keptChanging(localPath, "changed while being sent") }
            do {
                try await channel.rename(spare.path, to: remotePath)
            } catch let error as SFTPError where error.code == .noSuchFile {
                // The spare is gone (its directory was removed or renamed meanwhile): nothing
                // was placed; the caller takes the ordinary path.
                outstanding.withLock { _ = $0.remove(spare.path) }
                return nil
            }
        } catch {
            if (try? await channel.remove(spare.path)) != nil { outstanding.withLock { _ = $0.remove(spare.path) } }
            throw error
        }
        outstanding.withLock { _ = $0.remove(spare.path) }
        let mtime = Int64(UInt32(clamping: before.mtime))
        state?.setRecord(FileRecord(size: before.size, mtime: mtime, localVersion: FileVersion(before)), for: path)
        return UploadResult(bytes: before.size, size: before.size, mtime: before.mtime, permissions: before.permissions,
                            sent: before)
    }

    private func checkConflict(_ path: String, target reply: SFTPReply?) throws {
        guard !force, case .attrs(_, let attributes) = reply, let record = state?.record(path) else { return }
        let found = TreeEntry(path: path, kind: .file, size: attributes.size ?? 0, mtime: Int64(attributes.mtime ?? 0))
        if found.size != record.size || found.mtime != record.mtime {
            throw RemoteConflict(path: path, expected: record, found: found)
        }
    }

    /// Opens a spare temp file in `directory` unless one is there already.
    public func replenish(_ directory: String) {
        if closed.withLock({ $0 }) || spares.withLock({ $0[directory] != nil }) { return }
        let client = self.client
        opening.withLock { $0 += 1 }
        Task {
            defer { opening.withLock { $0 -= 1 } }
            let channel = client.nextChannel()
            let path = RemotePath.join(directory, TemporaryName.upload(for: "save"))
            self.outstanding.withLock { _ = $0.insert(path) }
            guard let handle = try? await channel.open(path, flags: [.write, .create, .exclusive],
                                                       attributes: SFTPAttributes(permissions: 0o600)) else { return }
            let spare = Spare(handle: handle, path: path)
            if closed.withLock({ $0 }) {  // the watch stopped while this was being opened
                if (try? await channel.sendBatch([.close(handle: handle.bytes), .remove(path: path)])) != nil {
                    outstanding.withLock { _ = $0.remove(path) }
                }
                return
            }
            let extra = spares.withLock { table -> Spare? in
                if table[directory] != nil { return spare }
                table[directory] = spare
                return nil
            }
            if let extra { discard(extra) }
        }
    }

    /// The remote moved `from` to `to`: spares in and below it moved too (open handles stay
    /// valid across a rename), so they are filed under their new paths.
    public func moved(from: String, to: String) {
        let rebase = { (path: String) -> String in
            ByteExact.isSameOrInside(path, from) ? ByteExact.rebase(path, from: from, to: to) : path
        }
        spares.withLock { table in
            var moved: [String: Spare] = [:]
            for (directory, spare) in table where ByteExact.isSameOrInside(directory, from) {
                table.removeValue(forKey: directory)
                moved[rebase(directory)] = Spare(handle: spare.handle, path: rebase(spare.path))
            }
            for (directory, spare) in moved {
                if let displaced = table.updateValue(spare, forKey: directory) { discard(displaced) }
            }
        }
        outstanding.withLock { set in set = Set(set.map(rebase)) }
    }

    /// The remote `directory` was removed (with the spares in it): they are forgotten.
    public func removed(_ directory: String) {
        let gone = spares.withLock { table -> [Spare] in
            let gone = table.filter { ByteExact.isSameOrInside($0.key, directory) }
            for key in gone.keys { table.removeValue(forKey: key) }
            return Array(gone.values)
        }
        outstanding.withLock { set in set = set.filter { !ByteExact.isSameOrInside($0, directory) } }
        for spare in gone {
            Task { _ = try? await spare.handle.channel.sendBatch([.close(handle: spare.handle.bytes)]) }
        }
    }

    /// Spare files this saver may have left on the remote (its connection was lost).
    public var leftovers: [String] { outstanding.withLock { Array($0) } }

    /// Closes and removes every spare (on exit or before reconnecting). Runs to the end
    /// even when the caller is cancelled (a stopping watch): the waits must really wait.
    public func discardAll() async {
        closed.withLock { $0 = true }
        await Task { [self] in
            // Let spares being opened land (and remove themselves), and discarded ones go,
            // before the session goes.
            for _ in 0..<400 where opening.withLock({ $0 > 0 }) { try? await Task.sleep(for: .milliseconds(5)) }
            let all = spares.withLock { table -> [Spare] in
                defer { table.removeAll() }
                return Array(table.values)
            }
            for spare in all {
                if (try? await spare.handle.channel.sendBatch([.close(handle: spare.handle.bytes), .remove(path: spare.path)])) != nil {
                    outstanding.withLock { _ = $0.remove(spare.path) }
                }
            }
        }.value
    }

    private func discard(_ spare: Spare) {
        opening.withLock { $0 += 1 }
        Task {
            defer { opening.withLock { $0 -= 1 } }
            if (try? await spare.handle.channel.sendBatch([.close(handle: spare.handle.bytes), .remove(path: spare.path)])) != nil {
                outstanding.withLock { _ = $0.remove(spare.path) }
            }
        }
    }
}
