// PollingWatcher: a change source that works on any file system (NFS, FUSE, containers,
// macOS) by polling stat data.
//
// start() takes the first snapshot synchronously (so nothing changed after it returns is
// missed), then a dedicated thread sleeps `interval`, refreshes the snapshot (see
// PollingSnapshot), turns the differences into ordered observations (PollingDiff: renames by
// inode) and emits them as one batch per poll. A poll sees only the net result of what
// happened since the previous one: a file created and deleted in between is never seen.

import Foundation
import MuxTransport

// MARK: - PollingWatcher

/// Polls a tree every `interval` (stat only, no content reads).
public final class PollingWatcher: ChangeSource, @unchecked Sendable {
    /// The watched directory.
    public let root: String
    /// Time between the end of one poll and the start of the next.
    public let interval: Duration
    /// "polling".
    public var kind: String { "polling" }

    private let filter: ExclusionFilter
    private let thread = Locked<WatcherThread?>(nil)
    private let figures = Locked<(entries: Int, directories: Int, lastPoll: Duration)>((0, 0, .zero))

    /// Creates a watcher; nothing happens before `start()`.
    /// - Parameters:
    ///   - root: the local root (may be a symlink to a directory).
    ///   - filter: the ignore rules; ignored entries are never examined again.
    ///   - interval: pause between polls (1 s by default; tests use 50 ms).
    public init(root: String, filter: ExclusionFilter, interval: Duration = .seconds(1)) {
        self.root = LocalScanner.trimmedRoot(root)
        self.filter = filter
        self.interval = max(interval, .milliseconds(1))
    }

    /// Entries and directories in the current snapshot, and how long the last poll took.
    public var snapshotFigures: (entries: Int, directories: Int, lastPoll: Duration) { figures.withLock { $0 } }

    // MARK: ChangeSource

    /// Takes the first snapshot, then polls on a dedicated thread.
    /// - Throws: ``ChangeSourceError/rootUnusable(_:reason:)`` when the root cannot be read.
    public func start() throws -> AsyncStream<[ChangeEvent]> {
        let worker = try WatcherThread(name: "muxsync-poll")
        try thread.withLock { current in
            if current != nil { throw ChangeSourceError.alreadyStarted }
            current = worker
        }
        let snapshot: PollingSnapshot
        do {
            snapshot = try PollingSnapshot(root: root, filter: filter)
        } catch let problem as PollingRootProblem {
            throw ChangeSourceError.rootUnusable(root, reason: PollingWatcher.describe(problem))
        }
        figures.withLock { $0 = (snapshot.entryCount, snapshot.directoryCount, .zero) }
        let (stream, continuation) = worker.makeStream()
        let loop = PollingLoop(root: root, filter: filter, interval: interval, snapshot: snapshot,
                               thread: worker, continuation: continuation, figures: figures)
        try worker.start { loop.run() }
        return stream
    }

    /// Stops polling and finishes the stream.
    public func stop() {
        thread.withLock { $0 }?.stop()
    }

    static func describe(_ problem: PollingRootProblem) -> String {
        switch problem {
        case .unavailable(let reason): return reason
        case .replaced: return "another directory now sits at this path"
        }
    }
}

// MARK: - The polling loop

/// State of the polling thread (confined to it).
private final class PollingLoop: @unchecked Sendable {
    let root: String
    let filter: ExclusionFilter
    let interval: Duration
    var snapshot: PollingSnapshot?
    let thread: WatcherThread
    let continuation: AsyncStream<[ChangeEvent]>.Continuation
    let figures: Locked<(entries: Int, directories: Int, lastPoll: Duration)>

    init(root: String, filter: ExclusionFilter, interval: Duration, snapshot: PollingSnapshot, thread: WatcherThread,
         continuation: AsyncStream<[ChangeEvent]>.Continuation,
         figures: Locked<(entries: Int, directories: Int, lastPoll: Duration)>) {
        self.root = root
        self.filter = filter
        self.interval = interval
        self.snapshot = snapshot
        self.thread = thread
        self.continuation = continuation
        self.figures = figures
    }

    func run() {
        while !thread.sleep(interval) {
            let started = ContinuousClock.now
            poll()
            let took = ContinuousClock.now - started
            figures.withLock { $0.lastPoll = took }
        }
        continuation.finish()
    }

    private func poll() {
        guard let current = snapshot else {
            // The root is gone: wait for it to come back.
            if let fresh = try? PollingSnapshot(root: root, filter: filter) {
                snapshot = fresh
                emitRescan("the watched directory \(root) is back")
            }
            return
        }
        do {
            let diff = try current.refresh()
            if !diff.ignoreFilesChanged.isEmpty {
                var reloaded: [String] = []
                for directory in diff.ignoreFilesChanged where !reloaded.contains(directory) {
                    filter.reloadGitignore(in: directory)
                    reloaded.append(directory)
                }
                // Start over under the new rules: newly ignored entries leave the snapshot,
                // newly included ones enter it.
                snapshot = try? PollingSnapshot(root: root, filter: filter)
                emitRescan("ignore rules changed (" + reloaded.map { $0.isEmpty ? "top level" : $0 }.joined(separator: ", ") + ")")
                return
            }
            guard !diff.isEmpty else { return }
            let events = ChangeCoalescer.coalesce(diff.observations())
            figures.withLock { $0.entries = current.entryCount; $0.directories = current.directoryCount }
            if !events.isEmpty { continuation.yield(events) }
        } catch PollingRootProblem.replaced {
            snapshot = try? PollingSnapshot(root: root, filter: filter)
            emitRescan("the watched directory \(root) was replaced by another directory")
        } catch {
            snapshot = nil
            let reason = (error as? PollingRootProblem).map(PollingWatcher.describe) ?? "\(error)"
            emitRescan("the watched directory \(root) is gone or unreadable (\(reason)); waiting for it to come back")
        }
    }

    private func emitRescan(_ reason: String) {
        continuation.yield([.rescan(reason: reason)])
    }
}
