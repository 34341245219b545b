#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import MuxSFTPWire
import MuxTransport

// MARK: - watch: keep the remote in step, over one session that stays open

/// Choices for a watch.
public struct WatchOptions: Sendable {
    public var forcePolling = false
    public var pollInterval: Duration = .seconds(1)
    /// The first sync also deletes remote entries missing locally (off: only
    /// deletions seen while watching propagate).
    public var deleteOnStart = false
    public var force = false
    public var stateDirectory: String?
    /// Delays between reconnection attempts (the last one repeats).
    public var reconnectDelays: [Double] = [0.2, 0.5, 1, 1.5, 2]
    public init() {}
}

/// Runs `muxsync watch`: an initial push, then every local change goes to the
/// remote over the open session; on a lost connection changes keep queueing,
/// the session is re-established with backoff, a reconciling push runs, and
/// the queue drains. Stops when its task is cancelled.
public final class WatchEngine: Sendable {
    public let localRoot: String
    public let remoteRoot: String
    public let options: WatchOptions
    let connect: @Sendable () async throws -> SFTPClient
    let filter: ExclusionFilter
    let status: WatchStatus
    let logger: Logger
    let queue = ChangeQueue()
    /// What watch has put on the remote, per local version.
    let known: KnownTree
    /// Applies batches in order; keeps the changes waiting for the event that explains them.
    let applier: BatchApplier
    /// Zero of the local-time stamps the applier keeps (see ``BatchTarget/stamp()``).
    let epoch = ContinuousClock.now
    /// The pool of the current connection (nil while reconnecting), for shared-session use.
    let currentClient = Locked<SFTPClient?>(nil)

    public init(localRoot: String, remoteRoot: String, options: WatchOptions, filter: ExclusionFilter,
                status: WatchStatus, logger: Logger, connect: @escaping @Sendable () async throws -> SFTPClient) {
        self.localRoot = localRoot
        self.remoteRoot = remoteRoot
        self.options = options
        self.filter = filter
        self.status = status
        self.logger = logger
        self.connect = connect
        let known = KnownTree()
        self.known = known
        applier = BatchApplier(known: known)
    }

    /// One connected period: the pool and what goes with it.
    struct Link: Sendable {
        let client: SFTPClient
        let state: SyncStateStore
        let sender: FileSender
        let saver: QuickSaver
    }

    public func run() async throws {
        // Watch first, then sync: nothing saved during the initial push is missed.
        let source = ChangeSources.make(root: localRoot, filter: filter, forcePolling: options.forcePolling,
                                        pollInterval: options.pollInterval)
        let stream = try source.start()
        defer { source.stop() }
        let queue = self.queue
        let feeder = Task {
            for await batch in stream { queue.add(batch) }
            queue.close()
        }
        defer { feeder.cancel() }

        var link = try await establish(firstTime: true)
        var stoppedBy: Error?
        do {
            let initial = try await reconcile(link, delete: options.deleteOnStart)
            known.record(initial.localTree)
            status.emit(.initialSync(initial.summary))
            status.emit(.watching(source: source.kind, files: initial.localFiles))
            var lastSave = ContinuousClock.now

            var checkScheduled = false
            var check: Task<Void, Never>?
            defer { check?.cancel() }
            while !Task.isCancelled {
                guard let batch = await queue.next() else { break }
                status.setQueue(batch.count)
                if !batch.isEmpty && logger.logLevel <= .debug {
                    let shown = batch.prefix(50).map(\.description).joined(separator: ", ") + (batch.count > 50 ? ", ..." : "")
                    logger.debug("applying \(batch.count) event(s): \(shown)")
                }
                // Every local change made before this is in the batch or an earlier one.
                let covered = stamp(ContinuousClock.now - Self.reportingDelay(source.kind, options.pollInterval))
                do {
                    try await apply(batch, link, covered: covered)
                    if batch.isEmpty {
                        checkScheduled = false
                    } else {
                        queue.acknowledge()
                    }
                    if !checkScheduled, let latest = applier.latestAhead {
                        // Paths sent ahead of their events are checked once the events cover
                        // them, even if nothing else happens by then.
                        checkScheduled = true
                        let delay = Self.reportingDelay(source.kind, options.pollInterval)
                        let due = epoch + .nanoseconds(Int64(clamping: latest)) + delay + .milliseconds(20)
                        check = Task { [queue] in
                            guard (try? await Task.sleep(until: due, clock: .continuous)) != nil else { return }
                            queue.wake()
                        }
                    }
                    status.setQueue(queue.count)
                    if ContinuousClock.now - lastSave > .seconds(1) || queue.count == 0 {
                        try? link.state.save()
                        lastSave = .now
                    }
                } catch let error where Self.isConnectionLoss(error) {
                    queue.requeue(batch)
                    if !batch.isEmpty { queue.acknowledge() }
                    currentClient.withLock { $0 = nil }
                    status.emit(.disconnected("\(error)"))
                    link = try await reconnect(replacing: link)
                }
            }
        } catch {
            stoppedBy = error
        }
        // However it ended (also stopped by Ctrl-C or TERM, or failed, before the loop ended):
        // spares go, the state is kept, and the session ends here rather than run on while
        // the process exits.
        await link.saver.discardAll()
        try? link.state.save()
        await link.client.session.close()
        if let stoppedBy { throw stoppedBy }
        status.finish()
    }

    /// The longest a change source takes to report a local change (inotify: the coalescing
    /// window; polling: an interval and a walk), with margin.
    static func reportingDelay(_ kind: String, _ pollInterval: Duration) -> Duration {
        kind == "inotify" ? .milliseconds(250) : pollInterval * 2 + .milliseconds(500)
    }

    /// `instant` as a stamp of local time (nanoseconds since the engine was made).
    func stamp(_ instant: ContinuousClock.Instant) -> UInt64 {
        let elapsed = instant - epoch
        guard elapsed > .zero else { return 0 }
        let parts = elapsed.components
        return UInt64(parts.seconds) * 1_000_000_000 + UInt64(parts.attoseconds / 1_000_000_000)
    }

    // MARK: Connection

    /// Replaces a lost link, retrying until the new one is settled: the spare
    /// files of the lost connection are removed through the new one, and the
    /// queued paths are checked against what the remote holds (the batch cut
    /// mid-way may have partly landed), so re-sending is neither doubled nor a
    /// false conflict. Nothing was lost meanwhile: the watcher kept queueing.
    private func reconnect(replacing lost: Link) async throws -> Link {
        var old = lost
        while true {
            try? old.state.save()
            await old.client.session.close()
            let leftovers = old.saver.leftovers
            let link = try await establish(firstTime: false)
            do {
                let client = link.client
                try await pipelined(leftovers, window: 16) { path in _ = try? await client.nextChannel().remove(path) }
                let pending = queue.takeAll()
                do {
                    queue.requeue(try await settle(pending, link))
                } catch {
                    queue.requeue(pending)
                    throw error
                }
                return link
            } catch let error where Self.isConnectionLoss(error) {
                currentClient.withLock { $0 = nil }
                status.emit(.disconnected("\(error)"))
                old = link  // lost again while settling: go round
            }
        }
    }

    /// Connects, retrying with backoff when the network (not the credentials) fails.
    private func establish(firstTime: Bool) async throws -> Link {
        var attempt = 0
        while true {
            try Task.checkCancellation()
            do {
                let client = try await connect()
                status.emit(.connected(client.session.endpoint))
                let canonical = (try? await client.primary.realpath(remoteRoot)) ?? remoteRoot
                let state = options.stateDirectory.map {
                    SyncStateStore(directory: $0 + "/" + SyncStateStore.key(client.session.endpoint + "\u{0}" + canonical))
                } ?? SyncStateStore(endpoint: client.session.endpoint, remoteRoot: canonical)
                var sender = FileSender(client: client, state: state, logger: logger)
                sender.force = options.force
                currentClient.withLock { $0 = client }
                return Link(client: client, state: state, sender: sender,
                            saver: QuickSaver(client: client, state: state, force: options.force))
            } catch let error as TransportError where error.stage == .hostKey || error.stage == .authentication {
                throw error  // retrying cannot help
            } catch {
                if firstTime && attempt == 0 && !(error is TransportError) { throw error }
                let delay = options.reconnectDelays[min(attempt, options.reconnectDelays.count - 1)]
                attempt += 1
                status.emit(.reconnecting(attempt: attempt, delay: delay))
                logger.info("connection attempt \(attempt) failed: \(error)")
                try await Task.sleep(for: .seconds(delay))
            }
        }
    }

    /// The pool of the current connection, nil while (re)connecting.
    public var client: SFTPClient? { currentClient.withLock { $0 } }

    // MARK: Flush

    /// Returns once every local change made before the call is on the remote:
    /// a fresh local scan is compared with what watch has sent (so nothing
    /// depends on how fast the change source reports), the differences are
    /// queued, and the queue is waited on until it is empty and idle. A file
    /// whose send is in flight counts as missing and is queued again, but the
    /// apply step finds that version in `known` once the send is done and
    /// skips it: each save is sent once.
    public func sync(timeout: Duration = .seconds(300)) async throws {
        let scan = try LocalScanner(root: localRoot, isExcluded: filter.walkPredicate).scan()
        let start = queue.idleState.applied
        let missing = known.differences(from: scan.tree)
        queue.add(missing)
        let deadline = ContinuousClock.now + timeout
        while true {
            let state = queue.idleState
            if state.idle && (missing.isEmpty || state.applied > start) { return }
            guard ContinuousClock.now < deadline else {
                throw SyncError.timedOut("waiting for \(queue.count) change(s) to reach the remote")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    static func isConnectionLoss(_ error: Error) -> Bool {
        if let transport = error as? TransportError { return transport.isConnectionLoss || transport.stage == .sftp }
        return false
    }

    /// A push of the whole tree (no deletes unless asked).
    func reconcile(_ link: Link, delete: Bool) async throws -> PushReport {
        var options = PushOptions()
        options.delete = delete
        options.force = self.options.force
        options.stateDirectory = self.options.stateDirectory
        var job = PushJob(localRoot: localRoot, remoteRoot: remoteRoot, client: link.client, options: options,
                          isExcluded: filter.walkPredicate, progress: ProgressReporter(mode: .quiet), logger: logger)
        job.sharedState = link.state
        let report = try await job.run()
        for failure in report.failures { status.emit(.failed(path: "", message: failure)) }
        for warning in report.warnings { status.emit(.warning(warning)) }
        return report
    }

    /// After a reconnect: a queued change whose local version watch already
    /// sent is dropped; one whose file reached the remote although the reply
    /// was lost (same size and mtime there as here) gets its state record set
    /// to what the remote now holds, then is sent again only if `known` says
    /// this version was not sent (a same-second edit, say).
    func settle(_ events: [ChangeEvent], _ link: Link) async throws -> [ChangeEvent] {
        let kept = Locked([Int: ChangeEvent]())
        try await pipelined(Array(events.enumerated()), window: 32) { [self] item in
            guard case .changed(let path) = item.element,
                  let found = try? LocalTreeStat.of(root: localRoot, relative: path), found.kind == .file else {
                kept.withLock { $0[item.offset] = item.element }
                return
            }
            let local = found.attributes
            if known.contains(path, local) { return }  // this very version is on the remote
            let remote = try await link.client.nextChannel().lstatIfExists(RemotePath.join(remoteRoot, path))
            if let remote, remote.size == local.size, Int64(remote.mtime ?? 0) == Int64(UInt32(clamping: local.mtime)),
               let record = link.state.record(path) {
                link.state.setRecord(FileRecord(size: local.size, mtime: Int64(remote.mtime ?? 0),
                                                signatureKey: record.signatureKey), for: path)
            }
            kept.withLock { $0[item.offset] = item.element }
        }
        return kept.withLock { table in table.keys.sorted().compactMap { table[$0] } }
    }
}
