// InotifyWatcher: Linux change source on inotify (through Glibc, no dependency).
//
// One watch per directory that the ignore rules do not exclude (ignored directories cost
// nothing). start() installs the watches synchronously, then a dedicated thread blocks in
// poll() on the inotify descriptor and a wake pipe: idle costs no CPU. Events are turned into
// observations (InotifyEventHandler) and grouped by a ChangeCoalescer.

#if os(Linux)
import Glibc
import Foundation
import MuxSSHConfig
import MuxTransport

// MARK: - InotifyWatcher

/// Watches a tree with inotify.
public final class InotifyWatcher: ChangeSource, @unchecked Sendable {
    /// The watched directory.
    public let root: String
    /// "inotify".
    public var kind: String { "inotify" }

    private let filter: ExclusionFilter
    private let settings: ChangeCoalescer.Settings
    private let onWatchLimit: (@Sendable () -> Void)?
    private let thread = Locked<WatcherThread?>(nil)
    private let watches = Locked(0)

    /// Creates a watcher; nothing happens before `start()`.
    /// - Parameters:
    ///   - root: the local root (may be a symlink to a directory).
    ///   - filter: the ignore rules; reloaded when a .gitignore changes.
    ///   - coalesce: batch timing.
    ///   - onWatchLimit: called (on the watcher thread) when a new directory could not be
    ///     watched because fs.inotify.max_user_watches is reached; a `.rescan` is emitted too.
    public init(root: String, filter: ExclusionFilter, coalesce: ChangeCoalescer.Settings = .standard,
                onWatchLimit: (@Sendable () -> Void)? = nil) {
        self.root = LocalScanner.trimmedRoot(root)
        self.filter = filter
        self.settings = coalesce
        self.onWatchLimit = onWatchLimit
    }

    /// Number of directories watched (updated after each batch).
    public var watchCount: Int { watches.withLock { $0 } }

    // MARK: ChangeSource

    /// Watches every non-ignored directory, then reports changes on a dedicated thread.
    /// - Throws: ``ChangeSourceError/inotifyUnavailable(reason:)`` (no inotify instance or
    ///   the watch limit is too low for this tree), ``ChangeSourceError/rootUnusable(_:reason:)``.
    public func start() throws -> AsyncStream<[ChangeEvent]> {
        let worker = try WatcherThread(name: "muxsync-inotify")
        try thread.withLock { current in
            if current != nil { throw ChangeSourceError.alreadyStarted }
            current = worker
        }
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else {
            let code = errno
            let reason = code == EMFILE
                ? "too many inotify instances (fs.inotify.max_user_instances = \(InotifyLimits.read("max_user_instances"))); "
                    + "raise it (sudo sysctl fs.inotify.max_user_instances=1024) or use --poll"
                : LocalScanner.describe(errno: code) + "; use --poll"
            throw ChangeSourceError.inotifyUnavailable(reason: reason)
        }
        let (stream, continuation) = worker.makeStream()
        let handler = InotifyEventHandler(descriptor: fd, root: root, filter: filter, settings: settings,
                                          onWatchLimit: onWatchLimit)
        do {
            try handler.watchInitialTree()
        } catch {
            close(fd)
            continuation.finish()
            throw error
        }
        watches.withLock { $0 = handler.watchCount }
        let loop = InotifyLoop(handler: handler, thread: worker, continuation: continuation, watches: watches)
        try worker.start { loop.run() }
        return stream
    }

    /// Stops watching and finishes the stream.
    public func stop() {
        thread.withLock { $0 }?.stop()
    }
}

// MARK: - The thread loop

/// Reads inotify events, feeds the handler, emits due batches. Confined to its thread.
private final class InotifyLoop: @unchecked Sendable {
    let handler: InotifyEventHandler
    let thread: WatcherThread
    let continuation: AsyncStream<[ChangeEvent]>.Continuation
    let watches: Locked<Int>
    private static let bufferSize = 64 * 1024

    init(handler: InotifyEventHandler, thread: WatcherThread, continuation: AsyncStream<[ChangeEvent]>.Continuation,
         watches: Locked<Int>) {
        self.handler = handler
        self.thread = thread
        self.continuation = continuation
        self.watches = watches
    }

    func run() {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: InotifyLoop.bufferSize, alignment: 8)
        defer {
            buffer.deallocate()
            close(handler.descriptor)
        }
        var fds = [pollfd(fd: handler.descriptor, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: thread.wakeDescriptor, events: Int16(POLLIN), revents: 0)]
        while !thread.isStopRequested {
            let timeout = handler.nextDeadline().map { WatcherThread.milliseconds($0 - ContinuousClock.now) } ?? -1
            fds[0].revents = 0
            fds[1].revents = 0
            let ready = poll(&fds, 2, timeout)
            if ready < 0 && errno != EINTR { break }
            if fds[1].revents != 0 { break }
            if fds[0].revents & Int16(POLLIN) != 0 { readAvailable(buffer) }
            handler.tick(now: .now)
            if let batch = handler.takeBatch(now: .now), !batch.isEmpty {
                watches.withLock { $0 = handler.watchCount }
                continuation.yield(batch)
            }
        }
        let last = handler.finish()
        if !last.isEmpty { continuation.yield(last) }
        continuation.finish()
    }

    /// Reads what is queued (a bounded number of times, so batches still get cut).
    private func readAvailable(_ buffer: UnsafeMutableRawPointer) {
        for _ in 0..<16 {
            let count = read(handler.descriptor, buffer, InotifyLoop.bufferSize)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            var offset = 0
            while offset + 16 <= count {
                let base = buffer + offset
                let wd = base.loadUnaligned(as: Int32.self)
                let mask = base.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
                let cookie = base.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
                let length = Int(base.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
                let nameStart = base + 16
                let nameBytes = UnsafeBufferPointer(start: nameStart.assumingMemoryBound(to: UInt8.self),
                                                    count: min(length, count - offset - 16))
                let used = nameBytes.firstIndex(of: 0) ?? nameBytes.count
                let name: String? = used == 0 ? "" : LocalScanner.exactString(UnsafeBufferPointer(rebasing: nameBytes[0..<used]))
                if let name {
                    handler.handle(descriptor: wd, mask: mask, cookie: cookie, name: name, now: .now)
                }
                offset += 16 + length
            }
        }
    }
}

// MARK: - Limits

/// Reads the inotify limits from /proc/sys/fs/inotify, for error messages.
enum InotifyLimits {
    /// The value of /proc/sys/fs/inotify/`name`, or "unknown".
    static func read(_ name: String) -> String {
        let text = try? String(contentsOfFile: "/proc/sys/fs/inotify/" + name, encoding: .utf8)
        return text?.trimmingBlanks(newlines: true) ?? "unknown"
    }

    /// Says the watch limit was reached while watching `what` and how to raise it.
    static func watchLimitAdvice(_ what: String) -> String {
        "cannot watch \(what): the inotify watch limit "
            + "(fs.inotify.max_user_watches = \(read("max_user_watches"))) is reached, so changes there "
            + "would go unseen; raise it (sudo sysctl fs.inotify.max_user_watches=524288, and add it to "
            + "/etc/sysctl.conf to keep it), ignore big generated directories, or use --poll"
    }
}
#endif
