import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - SignalWaiter

/// Blocks the main thread until SIGINT, SIGTERM or SIGHUP arrives (or `finish` is called),
/// running handlers for other signals (SIGUSR1) on a private queue meanwhile.
final class SignalWaiter: Sendable {
    private let queue = DispatchQueue(label: "muxsync-lab.signals")
    private let done = DispatchSemaphore(value: 0)
    private let reason = LabCell<String>("")
    private let sources = LabCell<[DispatchSourceSignal]>([])

    /// Installs the termination handlers (the default actions are switched off first).
    init() {
        for number in [SIGINT, SIGTERM, SIGHUP] {
            on(number) { [self] in finish("signal \(number)") }
        }
    }

    /// Runs `handler` on each delivery of `number`.
    func on(_ number: Int32, _ handler: @escaping @Sendable () -> Void) {
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
        source.setEventHandler(handler: handler)
        source.resume()
        sources.update { $0.append(source) }
    }

    /// Ends `wait()` with this reason.
    func finish(_ why: String) {
        reason.update { if $0.isEmpty { $0 = why } }
        done.signal()
    }

    /// Blocks until a termination signal or `finish`; returns the reason.
    func wait() -> String {
        done.wait()
        return reason.value
    }
}

// MARK: - LabCell

/// A small lock-protected value for the CLI.
final class LabCell<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) {
        stored = value
    }

    var value: Value {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }

    func update(_ change: (inout Value) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        change(&stored)
    }
}
