import Foundation
import Logging
import MuxSFTPWire
import MuxTransport

// MARK: - push: make the remote directory hold exactly the local tree

/// Choices for one push.
public struct PushOptions: Sendable {
    public var checksum = false
    public var delete = false
    public var maxDelete: Int?
    public var dryRun = false
    /// Files in flight at once across the pool. A small file costs three round trips
    /// (OPEN; WRITEs + FSETSTAT + CLOSE; RENAME), so a tree of small files moves at
    /// about filesInFlight / (3 x RTT) files a second: through 50 ms of round trip,
    /// 2,000 files took 3.6 s of push with 128 and 2.6 s with 512 (1024 was no better).
    /// Capped by the server's open-handle limit (`effectiveWindow`).
    public var filesInFlight = 512
    /// Overwrite (or delete) remote files that someone else changed.
    public var force = false
    /// Delta writes go into the remote file itself (not atomic; for huge append-mostly files).
    public var inPlace = false
    /// Read every written file back and compare hashes.
    public var verify = false
    /// Keep and use the local record of what the remote holds (delta, conflicts).
    public var useState = true
    /// Where that record lives (nil: $XDG_STATE_HOME/muxsync).
    public var stateDirectory: String?
    public init() {}
}

/// What a push did.
public struct PushReport: Sendable {
    public var plan = PushPlan()
    /// Regular files in the local tree (after exclusions).
    public var localFiles = 0
    /// The local tree as scanned (what the remote was made to hold).
    public var localTree = Tree()
    public var filesSent = 0
    public var bytesSent: UInt64 = 0
    public var wireBytes: UInt64 = 0
    public var deleted = 0
    /// Files sent as deltas (changed blocks only).
    public var deltaFiles = 0
    public var conflicts = 0
    public var seconds = 0.0
    public var warnings: [String] = []
    public var failures: [String] = []

    /// "sent 37 files, 1.2 MB (wire 1.3 MB), deleted 2, in 0.84 s".
    public var summary: String {
        var parts = ["sent \(HumanFormat.count(filesSent, "file")), \(HumanFormat.bytes(bytesSent)) (wire \(HumanFormat.bytes(wireBytes)))"]
        if deltaFiles > 0 { parts.append("\(deltaFiles) as deltas") }
        if deleted > 0 { parts.append("deleted \(deleted)") }
        if conflicts > 0 { parts.append("\(conflicts) conflict\(conflicts == 1 ? "" : "s")") }
        var text = parts.joined(separator: ", ") + " in " + HumanFormat.duration(seconds)
        if !failures.isEmpty { text += ", \(failures.count) failed" }
        return text
    }

    /// The line a push ends with: ``summary``, or with --dry-run how many changes it would make.
    public func headline(dryRun: Bool) -> String {
        dryRun ? "dry run: \(plan.actions.count) changes" : summary
    }
}

/// One push of a local directory onto a remote one over an open SFTP pool.
public struct PushJob: Sendable {
    public let localRoot: String
    public let remoteRoot: String
    public let client: SFTPClient
    public let options: PushOptions
    public let isExcluded: @Sendable (String, Bool) -> Bool
    public let progress: ProgressReporter
    public let logger: Logger
    /// A state store already open for this remote root (watch keeps one for its lifetime).
    public var sharedState: SyncStateStore?

    public init(localRoot: String, remoteRoot: String, client: SFTPClient, options: PushOptions,
                isExcluded: @escaping @Sendable (String, Bool) -> Bool, progress: ProgressReporter, logger: Logger) {
        self.localRoot = localRoot
        self.remoteRoot = remoteRoot
        self.client = client
        self.options = options
        self.isExcluded = isExcluded
        self.progress = progress
        self.logger = logger
    }

    public func run() async throws -> PushReport {
        let started = ContinuousClock.now
        let wireBefore = client.session.wireStats
        var report = PushReport()

        // The state's key needs the canonical remote root: ask while scanning.
        let canonicalRoot: Task<String?, Never>? = options.useState && sharedState == nil
            ? Task { [client, remoteRoot] in try? await client.primary.realpath(remoteRoot) } : nil
        // Scan both sides at once: the local walk is disk-bound, the remote one latency-bound.
        let scanner = LocalScanner(root: localRoot, isExcluded: isExcluded)
        async let localScan = Task.detached { try scanner.scan() }.value
        let remoteScan = try await RemoteScanner(client: client, root: remoteRoot).scan(isExcluded: isExcluded)
        var local = try await localScan
        // SFTP v3 carries mtimes as unsigned 32-bit seconds: compare what the remote can hold.
        local.tree = Tree(local.tree.entries.map { entry in
            var entry = entry
            entry.mtime = Int64(UInt32(clamping: entry.mtime))
            return entry
        }, protectedPaths: local.tree.protectedPaths)
        report.warnings = local.warnings + remoteScan.warnings
        report.localFiles = local.tree.fileCount
        report.localTree = local.tree

        var planOptions = PushPlanOptions(checksum: options.checksum, delete: options.delete, maxDelete: options.maxDelete)
        planOptions.isExcluded = isExcluded
        var differing: Set<BytePath> = []
        if options.checksum, let remote = remoteScan.tree {
            differing = try await ContentComparer(client: client, localRoot: localRoot, remoteRoot: remoteRoot)
                .differingFiles(local: local.tree, remote: remote)
        }
        // A file already equal on both sides (size and mtime) is muxsync's version even when the
        // record says otherwise (a cut lost the reply to its rename): refresh the record, so the
        // next edit is not taken for someone else's change.
        let earlyState = remoteScan.tree == nil ? nil : try await openState(canonical: await canonicalRoot?.value)
        if !options.dryRun, let earlyState, let remote = remoteScan.tree {
            for entry in local.tree.entries where entry.isFile {
                guard let other = remote[entry.path], other.isFile, other.size == entry.size, other.mtime == entry.mtime,
                      let record = earlyState.record(entry.path), record.size != other.size || record.mtime != other.mtime
                else { continue }
                earlyState.setRecord(FileRecord(size: other.size, mtime: other.mtime), for: entry.path)
            }
        }
        if let earlyState { planOptions.lastSent = { earlyState.record($0) } }
        let plan = try PushPlanner.plan(local: local.tree, remote: remoteScan.tree, options: planOptions,
                                        contentDiffers: options.checksum ? { differing.contains(BytePath($0)) } : nil)
        report.plan = plan

        if options.dryRun {
            if remoteScan.tree == nil { progress.printLine("would create \(remoteRoot)") }
            for action in plan.prelude + plan.actions { progress.printLine("would " + action.description) }
            report.seconds = (ContinuousClock.now - started).seconds
            return report
        }

        if remoteScan.tree == nil { try await RemoteDirectories(client: client).makePath(remoteRoot) }
        var state = earlyState
        if state == nil { state = try await openState() }
        if let problem = state?.loadProblem { report.warnings.append(problem) }
        var sender = FileSender(client: client, state: state, logger: logger)
        sender.force = options.force
        sender.inPlace = options.inPlace
        sender.verify = options.verify
        for stale in remoteScan.staleTemporaries {
            try? await client.nextChannel().remove(RemotePath.join(remoteRoot, stale))
        }

        progress.begin(files: plan.filesToSend, bytes: plan.bytesToSend)
        let tally = Locked(report)
        let context = Context(sender: sender, remote: remoteScan.tree ?? Tree(), tally: tally)
        try await execute(plan, context: context)
        do { try state?.save() } catch { tally.withLock { $0.warnings.append("could not save the sync state: \(error)") } }
        // Cancelled (Ctrl-C in a client of a shared session): what finished is recorded above;
        // the rest was never started or removed its temporary file.
        try Task.checkCancellation()
        report = tally.withLock { $0 }
        report.wireBytes = (client.session.wireStats.bytesSent - wireBefore.bytesSent)
            + (client.session.wireStats.bytesReceived - wireBefore.bytesReceived)
        report.seconds = (ContinuousClock.now - started).seconds
        return report
    }

    /// The state store of this remote root (nil with `useState` off). `canonical`: the
    /// root's realpath when already known.
    private func openState(canonical known: String? = nil) async throws -> SyncStateStore? {
        guard options.useState else { return nil }
        if let sharedState { return sharedState }
        var canonical = remoteRoot
        if let known { canonical = known } else if let resolved = try? await client.primary.realpath(remoteRoot) { canonical = resolved }
        if let directory = options.stateDirectory {
            return SyncStateStore(directory: directory + "/" + SyncStateStore.key(client.session.endpoint + "\u{0}" + canonical))
        }
        return SyncStateStore(endpoint: client.session.endpoint, remoteRoot: canonical)
    }

    /// What every action of one run shares.
    struct Context: Sendable {
        let sender: FileSender
        let remote: Tree
        let tally: Locked<PushReport>
    }

    // MARK: Executing a plan

    /// Runs the plan in phases that respect its order: deletes (deepest first),
    /// directories (shallowest first), then files and symlinks all together,
    /// then directory attributes (deepest first). Within a phase, everything is
    /// in flight at once.
    private func execute(_ plan: PushPlan, context: Context) async throws {
        var deletes: [[PushAction]] = []
        var mkdirs: [[PushAction]] = []
        var content: [PushAction] = []
        var directoryAttributes: [[PushAction]] = []
        var createdDirectories = Set<BytePath>()
        for action in plan.actions {
            switch action {
            case .delete(let path, _): Self.add(action, depth: Self.depth(path), to: &deletes)
            case .createDirectory(let path, _):
                Self.add(action, depth: Self.depth(path), to: &mkdirs)
                createdDirectories.insert(BytePath(path))
            case .upload, .createSymlink: content.append(action)
            case .setAttributes(let path, _, _):
                if createdDirectories.contains(BytePath(path)) || isLocalDirectory(path) {
                    Self.add(action, depth: Self.depth(path), to: &directoryAttributes)
                } else {
                    content.append(action)
                }
            }
        }
        for action in plan.prelude { await run([action], context: context) }  // make read-only dirs writable, in order
        for group in deletes.reversed() { await run(group, context: context) }
        for group in mkdirs { await run(group, context: context) }
        await run(content, context: context)
        // Setting a directory's attributes changes nothing in its parent, so they can all go
        // in one flight, unless a mode takes away the owner's search bit: then deepest first,
        // so nothing below such a directory is set after it closes.
        let searchable = directoryAttributes.joined().allSatisfy { action in
            if case .setAttributes(_, let permissions?, _) = action { return permissions & 0o100 != 0 }
            return true
        }
        if searchable {
            await run(Array(directoryAttributes.joined()), context: context)
        } else {
            for group in directoryAttributes.reversed() { await run(group, context: context) }
        }
    }

    private static func add(_ action: PushAction, depth: Int, to groups: inout [[PushAction]]) {
        while groups.count <= depth { groups.append([]) }
        groups[depth].append(action)
    }

    private static func depth(_ path: String) -> Int { path.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: "/") ? 1 : 0) } }

    private func isLocalDirectory(_ path: String) -> Bool {
        (try? LocalStat.ofPath(RemotePath.join(localRoot, path)))??.isDirectory ?? false
    }

    private func run(_ actions: [PushAction], context: Context) async {
        guard !actions.isEmpty else { return }
        let tally = context.tally
        try? await pipelined(actions, window: client.filesInFlight(upTo: options.filesInFlight)) { action in
            guard !Task.isCancelled else { return }
            do {
                try await perform(action, context: context)
            } catch is CancellationError {
                return  // its temporary is gone; the job reports the interruption
            } catch {
                var needed: UInt64 = 0
                if case .upload(_, let size, _, _) = action { needed = size }
                let error = await RemoteSpace(client: client).explain(error, near: RemotePath.join(remoteRoot, action.path),
                                                                     needing: needed)
                let line = error is RemoteConflict ? "\(error)" : "\(action.path): \(error)"
                tally.withLock {
                    $0.failures.append(line)
                    if error is RemoteConflict { $0.conflicts += 1 }
                }
                progress.printLine("error: " + line)
                if case .upload(let path, _, _, _) = action { progress.finishFile(path, failed: true) }
            }
        }
    }

    private func perform(_ action: PushAction, context: Context) async throws {
        let channel = client.nextChannel()
        let tally = context.tally
        switch action {
        case .delete(let path, let isDirectory):
            let remote = RemotePath.join(remoteRoot, path)
            if !isDirectory { try context.sender.checkConflict(path, remote: context.remote[path]) }
            if isDirectory {
                do {
                    try await channel.rmdir(remote)
                } catch let error as SFTPError {
                    // Still holds entries the ignore rules kept out of the sync (e.g. __pycache__/):
                    // those are not ours to delete, so the directory stays.
                    let left = (try? await channel.listDirectory(remote)) ?? []
                    guard !left.isEmpty else { throw error }
                    tally.withLock { $0.warnings.append("kept remote \(path)/: it still holds \(left.count) ignored entr\(left.count == 1 ? "y" : "ies")") }
                    return
                }
            } else {
                try await channel.remove(remote)
            }
            context.sender.state?.removeRecord(path)
            tally.withLock { $0.deleted += 1 }
            logger.debug("deleted \(path)")
        case .createDirectory(let path, let permissions):
            let remote = RemotePath.join(remoteRoot, path)
            do {
                try await channel.mkdir(remote, attributes: SFTPAttributes(permissions: permissions))
            } catch let error as SFTPError {
                guard let existing = try await channel.lstatIfExists(remote), existing.isDirectory else { throw error }
            }
        case .upload(let path, _, _, _):
            progress.startFile(path)
            let progressSink = progress
            let outcome = try await context.sender.send(path, localPath: RemotePath.join(localRoot, path),
                                                        remotePath: RemotePath.join(remoteRoot, path),
                                                        remote: context.remote[path],
                                                        progress: { progressSink.addBytes(UInt64($0)) })
            progress.finishFile(path)
            tally.withLock {
                $0.filesSent += 1
                $0.bytesSent += outcome.payloadBytes
                if outcome.viaDelta { $0.deltaFiles += 1 }
            }
            logger.debug("sent \(path) (\(outcome.payloadBytes) bytes\(outcome.viaDelta ? ", delta" : ""))")
        case .createSymlink(let path, let target):
            let remote = RemotePath.join(remoteRoot, path)
            let temporary = RemotePath.join(RemotePath.parent(remote), TemporaryName.upload(for: RemotePath.name(remote)))
            try await channel.symlink(at: temporary, pointingTo: target)
            do {
                try await channel.rename(temporary, to: remote)
            } catch {
                try? await channel.remove(temporary)
                throw error
            }
        case .setAttributes(let path, let permissions, let mtime):
            var attributes = SFTPAttributes()
            attributes.permissions = permissions
            if let mtime {
                attributes.mtime = UInt32(clamping: mtime)
                attributes.atime = UInt32(clamping: mtime)
            }
            try await channel.setstat(RemotePath.join(remoteRoot, path), attributes)
        }
    }
}

extension Duration {
    /// The duration in (fractional) seconds.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
