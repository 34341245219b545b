#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import MuxSFTPWire
import MuxTransport

// MARK: - Applying a batch of local changes to the remote

extension WatchEngine {
    /// Applies one batch in event order (see ``BatchApplier``): renames as remote renames,
    /// then what the events marked, settled against the local tree as it is now. Connection
    /// loss propagates to `run`; per-file failures are reported and do not stop the watch.
    /// `covered`: the stamp up to which the events so far report every local change.
    func apply(_ batch: [ChangeEvent], _ link: Link, covered: UInt64) async throws {
        try await applier.apply(batch, to: LinkTarget(engine: self, link: link), covered: covered)
    }

    /// Seconds since the file's mtime: the save-to-remote latency.
    static func sinceModification(_ stat: LocalStat) -> Double? {
        let modified = Double(stat.mtime) + Double(stat.mtimeNanoseconds) / 1e9
        let elapsed = Date().timeIntervalSince1970 - modified
        return elapsed >= 0 && elapsed < 60 ? elapsed : nil
    }
}

// MARK: - The remote of a connected period

/// ``BatchTarget`` over the engine's SFTP link: every operation reports its own failure
/// (status line, log) and only a lost connection throws.
struct LinkTarget: BatchTarget {
    let engine: WatchEngine
    let link: WatchEngine.Link

    private var localRoot: String { engine.localRoot }
    private var status: WatchStatus { engine.status }

    private func remotePath(_ path: String) -> String { RemotePath.join(engine.remoteRoot, path) }

    // MARK: Local side

    func local(_ path: String) -> LocalPresence {
        let stat: LocalTreeStat?
        do {
            stat = try LocalTreeStat.of(root: localRoot, relative: path)
        } catch {
            return .leftAlone  // unreadable: neither sent nor deleted
        }
        guard let found = stat else {
            // gone, but ignored (the rules may have changed since it was sent): left alone
            let wasDirectory = engine.known.entry(path)?.isDirectory ?? false
            return engine.filter.isExcluded(path, isDirectory: wasDirectory) ? .leftAlone : .absent
        }
        let isDirectory = found.kind == .directory
        if engine.filter.isExcluded(path, isDirectory: isDirectory) { return .leftAlone }
        switch found.kind {
        case .file: return .present(.file(FileVersion(found.attributes)))
        case .directory: return .present(.directory)
        case .symlink:
            guard let target = LocalTreeStat.linkTarget(root: localRoot, relative: path) else { return .leftAlone }
            return .present(.symlink(target: target))
        case .special: return .leftAlone
        }
    }

    func localSubtree(_ path: String) -> [BytePath: KnownEntry] {
        let filter = engine.filter
        let prefix = path + "/"
        guard let scan = try? LocalScanner(root: RemotePath.join(localRoot, path),
                                           isExcluded: { sub, isDirectory in filter.isExcludedInWalk(prefix + sub, isDirectory: isDirectory) })
            .scan() else { return [BytePath(path): .directory] }
        var entries: [BytePath: KnownEntry] = [BytePath(path): .directory]
        for entry in scan.tree.entries {
            if let known = KnownEntry(entry) { entries[BytePath(prefix + entry.path)] = known }
        }
        return entries
    }

    func isIgnored(_ path: String, isDirectory: Bool) -> Bool {
        engine.filter.isExcluded(path, isDirectory: isDirectory)
    }

    // MARK: Remote side

    func remoteExists(_ path: String) async throws -> Bool {
        try await link.client.nextChannel().lstatIfExists(remotePath(path)) != nil
    }

    func rename(_ from: String, to: String) async throws -> Bool {
        var done = false
        // Not a failure when it cannot be done (something in the way): `to` is sent instead.
        try await guarded(to, unless: { true }) {
            let channel = link.client.primary
            try await RemoteDirectories(client: link.client).makePath(RemotePath.parent(remotePath(to)))
            try await channel.rename(remotePath(from), to: remotePath(to))
            link.saver.moved(from: remotePath(from), to: remotePath(to))
            link.state.moveRecords(from: from, to: to)
            status.emit(.renamed(from: from, to: to))
            done = true
        }
        return done
    }

    func mayRemove(_ count: Int) -> Bool {
        if localRootIsAlive() { return true }
        status.emit(.warning("\(localRoot) is missing or empty: not deleting \(count) remote entr\(count == 1 ? "y" : "ies")"))
        return false
    }

    func remove(_ path: String, replacing: Bool) async throws -> Bool {
        // Created again locally since: a change, not a removal (its event follows).
        if !replacing, case .present = local(path) { return false }
        var done = false
        try await guarded(path) {
            guard let remote = try await remoteEntry(path) else {
                done = true
                return
            }
            if remote.isDirectory {
                link.saver.removed(remotePath(path))
                try await RemoteTrees(client: link.client).removeRecursively(remotePath(path))
                for key in engine.known.subtree(path).keys { link.state.removeRecord(key.string) }
            } else {
                try link.sender.checkConflict(path, remote: remote)
                try await link.client.nextChannel().remove(remotePath(path))
                status.adjustFiles(-1)
            }
            link.state.removeRecord(path)
            if !replacing { status.emit(.removed(path)) }
            done = true
        }
        return done
    }

    func sendFile(_ path: String) async throws -> FileVersion? {
        var sent: FileVersion?
        try await guarded(path, unless: { if case .present(.file) = local(path) { return false } else { return true } }) {
            let localPath = RemotePath.join(localRoot, path)
            if let result = try await link.saver.save(path, localRoot: localRoot, remotePath: remotePath(path)) {
                sent = result.sent.map(FileVersion.init)
                // Save-to-remote latency: from the file's mtime to now, when it is in place remotely.
                status.emit(.sent(path: path, bytes: result.bytes, latency: result.sent.flatMap(WatchEngine.sinceModification),
                                  delta: false))
                return
            }
            // The ordinary path opens by name: check first that no symlink is on the way.
            guard let found = try LocalTreeStat.of(root: localRoot, relative: path), found.kind == .file else { return }
            let remote = try await remoteEntry(path)
            if remote == nil { status.adjustFiles(1) }
            let outcome = try await link.sender.send(path, localPath: localPath, remotePath: remotePath(path), remote: remote,
                                                     progress: nil)
            sent = outcome.sent.map(FileVersion.init)
            status.emit(.sent(path: path, bytes: outcome.payloadBytes, latency: outcome.sent.flatMap(WatchEngine.sinceModification),
                              delta: outcome.viaDelta))
        }
        return sent
    }

    func sendSymlink(_ path: String, target: String) async throws -> Bool {
        var done = false
        try await guarded(path, unless: { local(path) != .present(.symlink(target: target)) }) {
            let channel = link.client.nextChannel()
            let destination = remotePath(path)
            let temporary = RemotePath.join(RemotePath.parent(destination), TemporaryName.upload(for: RemotePath.name(destination)))
            try await channel.symlink(at: temporary, pointingTo: target)
            try await channel.rename(temporary, to: destination)
            status.emit(.sent(path: path, bytes: 0, latency: nil, delta: false))
            done = true
        }
        return done
    }

    func sendDirectory(_ path: String) async throws -> Tree? {
        var sent: Tree?
        try await guarded(path, unless: { local(path) != .present(.directory) }) {
            // PushJob opens its root by name: check first that no symlink is on the way.
            guard let found = try LocalTreeStat.of(root: localRoot, relative: path), found.kind == .directory else { return }
            var options = PushOptions()
            options.force = engine.options.force
            let filter = engine.filter
            let prefix = path + "/"
            // The push keeps its records relative to its own root: it gets a scratch store
            // seeded with the watch's records of this directory (so its conflict checks are
            // the watch's), and what it wrote goes back, so the next save of these files is
            // checked against what is really there.
            let scratch = FileManager.default.temporaryDirectory.path + "/muxsync-subpush-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            let records = SyncStateStore(directory: scratch)
            var seeded: [String: FileRecord] = [:]
            for key in engine.known.subtree(path).keys where ByteExact.isStrictlyInside(key.string, path) {
                guard let record = link.state.record(key.string) else { continue }
                let relative = String(decoding: key.string.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
                records.setRecord(record, for: relative)
                seeded[relative] = record
            }
            var job = PushJob(localRoot: RemotePath.join(localRoot, path), remoteRoot: remotePath(path),
                              client: link.client, options: options,
                              isExcluded: { sub, isDirectory in filter.isExcludedInWalk(prefix + sub, isDirectory: isDirectory) },
                              progress: ProgressReporter(mode: .quiet), logger: engine.logger)
            job.sharedState = records
            let report = try await job.run()
            for entry in report.localTree.entries where entry.isFile {
                guard let record = records.record(entry.path) else {
                    link.state.removeRecord(prefix + entry.path)
                    continue
                }
                // a signature stored by the push lives in the scratch store: not kept
                let kept = record == seeded[entry.path] ? record : FileRecord(size: record.size, mtime: record.mtime)
                link.state.setRecord(kept, for: prefix + entry.path)
            }
            status.adjustFiles(report.filesSent)
            status.emit(.sent(path: path + "/", bytes: report.bytesSent, latency: nil, delta: false))
            // A failed entry is not on the remote; one that vanished locally meanwhile is no
            // failure (its own event follows).
            var failed = Set<BytePath>()
            for failure in report.failures {
                // A conflict names the path from the push's root: name it from the tree's.
                if failure.hasPrefix("conflict: ") {
                    status.emit(.conflict("conflict: " + prefix + failure.dropFirst("conflict: ".count)))
                    continue
                }
                let entry = report.localTree.entries.filter { failure.hasPrefix($0.path + ": ") }
                    .max { $0.path.utf8.count < $1.path.utf8.count }
                if let entry {
                    failed.insert(BytePath(entry.path))
                    if let scanned = KnownEntry(entry), local(prefix + entry.path) != .present(scanned) { continue }
                }
                status.emit(.failed(path: path, message: failure))
            }
            sent = failed.isEmpty ? report.localTree : Tree(report.localTree.entries.filter { !failed.contains(BytePath($0.path)) })
        }
        return sent
    }

    func reconcile(reason: String) async throws -> Tree? {
        status.emit(.warning("rescanning the whole tree: \(reason)"))
        var sent: Tree?
        try await guarded("") {
            let report = try await engine.reconcile(link, delete: false)
            status.emit(.initialSync(report.summary))
            sent = report.localTree
        }
        return sent
    }

    func stamp() -> UInt64 { engine.stamp(.now) }

    // MARK: Helpers

    /// Reports a failure unless it is the connection itself (that goes up), or `vanished`
    /// says the local entry changed meanwhile (a later event covers it: no failure).
    private func guarded(_ path: String, unless vanished: () -> Bool = { false },
                         _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error where WatchEngine.isConnectionLoss(error) {
            throw error
        } catch let conflict as RemoteConflict {
            status.emit(.conflict(conflict.description))
        } catch {
            if vanished() || Self.meansVanished(error) {
                engine.logger.debug("\(path) changed locally while being sent (\(error)); its next event sends it")
                return
            }
            status.emit(.failed(path: path, message: "\(error)"))
        }
    }

    /// Errors that say the local entry changed or went away while being sent: its next
    /// event sends it (or says where it went), so they are no failure.
    static func meansVanished(_ error: Error) -> Bool {
        switch error {
        case is UploadError: return true
        case let scan as LocalScanError:
            if case .rootUnreadable = scan { return false }
            return true
        case let local as LocalIOError: return local.errno == ENOENT || local.errno == ENOTDIR || local.errno == ELOOP
        default: return false
        }
    }

    /// What the remote has at `path`, as a tree entry (nil: nothing).
    private func remoteEntry(_ path: String) async throws -> TreeEntry? {
        guard let attributes = try await link.client.nextChannel().lstatIfExists(remotePath(path)) else { return nil }
        let kind: TreeEntry.Kind = attributes.isDirectory ? .directory : attributes.isRegularFile ? .file : .special("other")
        return TreeEntry(path: path, kind: kind, size: attributes.size ?? 0, mtime: Int64(attributes.mtime ?? 0),
                         permissions: attributes.modeBits ?? 0)
    }

    /// Root gone, or nothing left in it (after exclusions): treat as an accident.
    private func localRootIsAlive() -> Bool {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: localRoot) else { return false }
        return names.contains { name in
            let isDirectory = (try? LocalTreeStat.of(root: localRoot, relative: name))??.kind == .directory
            return !engine.filter.isExcluded(name, isDirectory: isDirectory)
        }
    }
}
