#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - A mutex without Foundation

/// A pthread mutex usable on every supported platform (Synchronization.Mutex needs macOS 15).
///
/// Used instead of Foundation's `NSLock`: on Linux, any use of a class of Foundation proper
/// (NSLock, Thread, FileHandle, ...) links all of swift-corelibs-foundation, CoreFoundation and
/// ICU (~60 MB) into the static binary, and every `muxsync` invocation pays for it at start-up.
/// See docs/benchmarks.md (exec).
public final class PlainLock: @unchecked Sendable {
    private let pointer: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        pointer = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pointer.initialize(to: pthread_mutex_t())
        pthread_mutex_init(pointer, nil)
    }

    deinit {
        pthread_mutex_destroy(pointer)
        pointer.deinitialize(count: 1)
        pointer.deallocate()
    }

    public func lock() { pthread_mutex_lock(pointer) }
    public func unlock() { pthread_mutex_unlock(pointer) }

    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(pointer)
        defer { pthread_mutex_unlock(pointer) }
        return try body()
    }
}
