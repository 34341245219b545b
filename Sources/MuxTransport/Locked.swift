/// A value guarded by a lock: the one pattern for shared mutable state in muxsync.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = PlainLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    @discardableResult
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        try lock.withLock { try body(&value) }
    }
}

/// Carries a value that is only ever touched on the session thread across a
/// Sendable boundary. The session thread is the synchronisation.
struct ThreadConfined<Value>: @unchecked Sendable {
    let value: Value
    public init(_ value: Value) { self.value = value }
}
