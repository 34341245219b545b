import Foundation

// MARK: - LabLock

/// A value guarded by an `NSLock`: the harness's shared mutable state (counters, flags,
/// process handles) lives in one of these so the owning classes can be `Sendable`.
final class LabLock<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    /// Wraps an initial value.
    init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` with exclusive access to the value.
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    /// A copy of the current value.
    var snapshot: Value {
        withLock { $0 }
    }
}

// MARK: - Monotonic clock

/// Nanoseconds on a monotonic clock (not wall time), for deadlines and delays.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    DispatchTime.now().uptimeNanoseconds
}

/// A monotonic deadline `seconds` from now.
func deadline(after seconds: TimeInterval) -> UInt64 {
    monotonicNanoseconds() &+ UInt64(max(0, seconds) * 1_000_000_000)
}

/// Sleeps the calling thread for `seconds`.
func sleepSeconds(_ seconds: TimeInterval) {
    guard seconds > 0 else { return }
    usleep(UInt32(min(seconds, 1000) * 1_000_000))
}
