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
    /// Applies one batch: renames first (in order), then removals (deepest
    /// first), then new directories (with their contents), then files and
    /// symlinks all in flight together. Connection loss propagates to `run`;
    /// per-file failures are reported and do not stop the watch.
    func apply(_ batch: [ChangeEvent], _ link: Link) async throws {
        var removals: [String] = []
        var changes: [String] = []
        for event in batch {
            switch event {
            case .renamed(let from, let to):
                try await rename(from, to, link)
            case .removed(let path):
                removals.append(path)
            case .changed(let path):
                changes.append(path)
            case .rescan(let reason):
                status.emit(.warning("rescanning the whole tree: \(reason)"))
                let report = try await reconcileAll(link)
                status.emit(.initialSync(report.summary))
            }
        }
        try await remove(removals, link)

        // A new directory is sent with everything in it; events below it are covered.
        var directories: [String] = []
        var leaves: [(String, LocalStat?)] = []
        for path in changes {
            let local = try? LocalStat.ofPath(RemotePath.join(localRoot, path))
            if local?.isDirectory == true { directories.append(path) } else { leaves.append((path, local)) }
        }
        directories.sort { $0.utf8.count < $1.utf8.count }
        var covered: [String] = []
        for directory in directories where !covered.contains(where: { Self.isInside(directory, $0) }) {
            try await sendDirectory(directory, link)
            covered.append(directory)
        }
        let remaining = leaves.filter { leaf in !covered.contains(where: { Self.isInside(leaf.0, $0) }) }
        try await pipelined(remaining, window: 32) { [self] item in
            try await sendLeaf(item.0, local: item.1, link)
        }
    }

    static func isInside(_ path: String, _ directory: String) -> Bool {
        path == directory || path.hasPrefix(directory + "/")
    }

    /// Reports a failure unless it is the connection itself (that goes up).
    private func guarded(_ path: String, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error where Self.isConnectionLoss(error) {
            throw error
        } catch let conflict as RemoteConflict {
            status.emit(.conflict(conflict.description))
        } catch {
            status.emit(.failed(path: path, message: "\(error)"))
        }
    }

    // MARK: Files and links

    private func sendLeaf(_ path: String, local: LocalStat?, _ link: Link) async throws {
        let localPath = RemotePath.join(localRoot, path)
        let remotePath = RemotePath.join(remoteRoot, path)
        guard let local else {
            try await remove([path], link)  // gone again before we got to it
            return
        }
        try await guarded(path) {
            if local.isRegularFile {
                if let result = try await link.saver.save(path, localPath: localPath, remotePath: remotePath) {
                    known.record(path, result.sent)
                    // Save-to-remote latency: from the file's mtime to now, when it is in place remotely.
                    status.emit(.sent(path: path, bytes: result.bytes, latency: Self.sinceModification(localPath), delta: false))
                    return
                }
                let remote = try await remoteEntry(path, link)
                if remote == nil { status.adjustFiles(1) }
                let outcome = try await link.sender.send(path, localPath: localPath, remotePath: remotePath, remote: remote,
                                                         progress: nil)
                known.record(path, outcome.sent)
                status.emit(.sent(path: path, bytes: outcome.payloadBytes, latency: Self.sinceModification(localPath),
                                  delta: outcome.viaDelta))
            } else if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: localPath) {
                let channel = link.client.nextChannel()
                let temporary = RemotePath.join(RemotePath.parent(remotePath), TemporaryName.upload(for: RemotePath.name(remotePath)))
                try await channel.symlink(at: temporary, pointingTo: target)
                try await channel.rename(temporary, to: remotePath)
                status.emit(.sent(path: path, bytes: 0, latency: nil, delta: false))
            }
        }
    }

    /// What the remote has at `path`, as a tree entry (nil: nothing).
    private func remoteEntry(_ path: String, _ link: Link) async throws -> TreeEntry? {
        guard let attributes = try await link.client.nextChannel().lstatIfExists(RemotePath.join(remoteRoot, path)) else {
            return nil
        }
        let kind: TreeEntry.Kind = attributes.isDirectory ? .directory : attributes.isRegularFile ? .file : .special("other")
        return TreeEntry(path: path, kind: kind, size: attributes.size ?? 0, mtime: Int64(attributes.mtime ?? 0),
                         permissions: attributes.modeBits ?? 0)
    }

    /// Seconds since the file's mtime: the save-to-remote latency.
    static func sinceModification(_ path: String) -> Double? {
        guard let stat = try? LocalStat.ofPath(path) else { return nil }
        let modified = Double(stat.mtime) + Double(stat.mtimeNanoseconds) / 1e9
        let elapsed = Date().timeIntervalSince1970 - modified
        return elapsed >= 0 && elapsed < 60 ? elapsed : nil
    }

    // MARK: Directories

    /// Creates a directory remotely and sends its whole subtree (a push of it).
    private func sendDirectory(_ path: String, _ link: Link) async throws {
        try await guarded(path) {
            var options = PushOptions()
            options.force = self.options.force
            options.stateDirectory = self.options.stateDirectory
            options.useState = false
            let filter = self.filter
            let prefix = path + "/"
            let job = PushJob(localRoot: RemotePath.join(localRoot, path), remoteRoot: RemotePath.join(remoteRoot, path),
                              client: link.client, options: options,
                              isExcluded: { sub, isDirectory in filter.isExcludedInWalk(prefix + sub, isDirectory: isDirectory) },
                              progress: ProgressReporter(mode: .quiet), logger: logger)
            let report = try await job.run()
            known.record(report.localTree, under: path)
            status.adjustFiles(report.filesSent)
            status.emit(.sent(path: path + "/", bytes: report.bytesSent, latency: nil, delta: false))
            for failure in report.failures { status.emit(.failed(path: path, message: failure)) }
        }
    }

    // MARK: Removals and renames

    /// Removes remote entries whose local counterpart is gone, unless the
    /// local root itself looks emptied or vanished (never mirror that).
    private func remove(_ paths: [String], _ link: Link) async throws {
        guard !paths.isEmpty else { return }
        guard localRootIsAlive() else {
            status.emit(.warning("\(localRoot) is missing or empty: not deleting \(paths.count) remote entr\(paths.count == 1 ? "y" : "ies")"))
            return
        }
        let ordered = paths.sorted { $0.utf8.count > $1.utf8.count }
        try await pipelined(ordered, window: 16) { [self] path in
            // Re-created locally since the event: it is a change, not a removal.
            if (try? LocalStat.ofPath(RemotePath.join(localRoot, path))) ?? nil != nil { return }
            try await guarded(path) {
                guard let remote = try await remoteEntry(path, link) else {
                    known.remove(path)
                    return
                }
                if remote.isDirectory {
                    try await RemoteTrees(client: link.client).removeRecursively(RemotePath.join(remoteRoot, path))
                } else {
                    try link.sender.checkConflict(path, remote: remote)
                    try await link.client.nextChannel().remove(RemotePath.join(remoteRoot, path))
                    status.adjustFiles(-1)
                }
                link.state.removeRecord(path)
                known.remove(path)
                status.emit(.removed(path))
            }
        }
    }

    /// A local rename becomes a remote rename (no bytes re-sent). If the
    /// remote has no `from`, `to` is sent as a new entry.
    private func rename(_ from: String, _ to: String, _ link: Link) async throws {
        try await guarded(to) {
            let channel = link.client.primary
            let source = RemotePath.join(remoteRoot, from)
            let target = RemotePath.join(remoteRoot, to)
            if try await channel.lstatIfExists(source) != nil {
                try await RemoteDirectories(client: link.client).makePath(RemotePath.parent(target))
                try await channel.rename(source, to: target)
                link.state.moveRecords(from: from, to: to)
                known.move(from: from, to: to)
                status.emit(.renamed(from: from, to: to))
            } else {
                queue.add([.changed(to)])
            }
        }
    }

    /// Root gone, or nothing left in it (after exclusions): treat as an accident.
    private func localRootIsAlive() -> Bool {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: localRoot) else { return false }
        return names.contains { name in
            let isDirectory = (try? LocalStat.ofPath(RemotePath.join(localRoot, name)))??.isDirectory ?? false
            return !filter.isExcluded(name, isDirectory: isDirectory)
        }
    }

    private func reconcileAll(_ link: Link) async throws -> PushReport {
        try await reconcile(link, delete: false)
    }
}
