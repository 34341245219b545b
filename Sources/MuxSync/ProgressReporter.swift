// ProgressReporter: a thread-safe live progress display on standard error.
// On a terminal it redraws one line in place (carriage return + clear line) at most every
// 100 ms; when not a terminal it prints a plain line now and then; in quiet mode nothing.
// Text comes from ProgressFormat; time, width and output are injectable for tests.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MuxTransport

// MARK: - ProgressReporter

/// Live progress for a transfer. All methods may be called from any thread.
public final class ProgressReporter: @unchecked Sendable {
    /// How progress is shown.
    public enum Mode: String, Sendable, Equatable {
        /// Redraw one line in place (standard error is a terminal).
        case tty
        /// Print a full line every `plainInterval` seconds (logs, pipes, CI).
        case plain
        /// Print nothing at all.
        case quiet
    }

    /// The mode chosen at creation.
    public let mode: Mode
    private let redrawInterval: Double
    private let plainInterval: Double
    private let width: @Sendable () -> Int
    private let clock: @Sendable () -> Double
    private let output: @Sendable (String) -> Void

    // Guarded by `mutex`.
    private let mutex = PlainLock()
    private var state = ProgressSnapshot()
    private var startTime: Double
    private var lastDraw: Double?
    private var lineShown = false

    /// Creates a reporter.
    /// - Parameters:
    ///   - redrawInterval: least time between two terminal redraws (0.1 s).
    ///   - plainInterval: least time between two plain lines (5 s).
    ///   - width: terminal width in columns, asked at each redraw.
    ///   - clock: monotonic seconds.
    ///   - output: receives the text to write (standard error by default).
    public init(mode: Mode, redrawInterval: Double = 0.1, plainInterval: Double = 5,
                width: @escaping @Sendable () -> Int = { ProgressReporter.terminalWidth() },
                clock: @escaping @Sendable () -> Double = { ProgressReporter.monotonicSeconds() },
                output: @escaping @Sendable (String) -> Void = { ProgressReporter.writeStandardError($0) }) {
        self.mode = mode
        self.redrawInterval = redrawInterval
        self.plainInterval = plainInterval
        self.width = width
        self.clock = clock
        self.output = output
        self.startTime = clock()
    }

    /// A reporter for standard error: quiet when asked, `.tty` on a terminal, else `.plain`.
    public static func forStandardError(quiet: Bool) -> ProgressReporter {
        if quiet { return ProgressReporter(mode: .quiet) }
        return ProgressReporter(mode: isatty(STDERR_FILENO) == 1 ? .tty : .plain)
    }

    // MARK: Updates

    /// Starts (or restarts) the clock with the planned totals.
    public func begin(files: Int, bytes: UInt64) {
        update(force: false) { s, now in
            s = ProgressSnapshot(filesTotal: files, bytesTotal: bytes)
            startTime = now
            // Plain output (logs, CI): the first line only once there is progress to tell.
            if mode == .plain { lastDraw = now }
        }
    }

    /// A file transfer starts.
    public func startFile(_ path: String) {
        update(force: false) { s, _ in s.currentPath = path }
    }

    /// Content bytes were transferred.
    public func addBytes(_ count: UInt64) {
        update(force: false) { s, _ in s.bytesDone &+= count }
    }

    /// A file is done (or failed).
    public func finishFile(_ path: String, failed: Bool = false) {
        update(force: false) { s, _ in
            s.filesDone += 1
            if failed { s.failed += 1 }
            if let current = s.currentPath, ByteExact.equal(current, path) { s.currentPath = nil }
        }
    }

    /// The current state (elapsed time included).
    public var snapshot: ProgressSnapshot {
        mutex.withLock {
            var s = state
            s.elapsed = max(0, clock() - startTime)
            return s
        }
    }

    // MARK: Output

    /// Prints a full line (a warning, a dry-run line) without garbling the progress line:
    /// on a terminal the progress line is cleared first and redrawn on the next update.
    /// Printed in every mode, quiet included: the caller decides what quiet suppresses.
    public func printLine(_ text: String) {
        mutex.withLock {
            if lineShown { output(Self.clearLine) ; lineShown = false }
            output(text + "\n")
        }
    }

    /// Ends the display: clears the progress line and prints `summary` (not in quiet mode).
    public func finish(summary: String?) {
        mutex.withLock {
            if lineShown { output(Self.clearLine); lineShown = false }
            if mode != .quiet, let summary { output(summary + "\n") }
        }
    }

    /// The end of a push or pull, the same wherever it ran (this process, or a session
    /// host drawing for its client): warnings, the summary line (when given; printed even
    /// in quiet mode, for the several-host case that hides progress but not results), then
    /// every failure.
    public func conclude(warnings: [String], summary: String?, failures: [String], prefix: String = "") {
        for warning in warnings { printLine(prefix + "warning: " + warning) }
        if let summary, mode == .quiet {
            printLine(prefix + summary)
        } else {
            finish(summary: summary.map { prefix + $0 })
        }
        for failure in failures { printLine("muxsync: \(prefix)failed: \(failure)") }
    }

    static let clearLine = "\r\u{1B}[2K"

    private func update(force: Bool, _ change: (inout ProgressSnapshot, Double) -> Void) {
        guard mode != .quiet else { return }
        mutex.withLock {
            let now = clock()
            change(&state, now)
            let interval = mode == .tty ? redrawInterval : plainInterval
            if !force, let last = lastDraw, now - last < interval { return }
            lastDraw = now
            var s = state
            s.elapsed = max(0, now - startTime)
            switch mode {
            case .tty:
                output(Self.clearLine + ProgressFormat.line(s, width: max(1, width() - 1)))
                lineShown = true
            case .plain:
                output(ProgressFormat.line(s, width: 200) + "\n")
            case .quiet:
                break
            }
        }
    }

    // MARK: System helpers

    /// Columns of the terminal on standard error, else $COLUMNS, else 80.
    public static func terminalWidth() -> Int {
        var size = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let text = getenv("COLUMNS"), let columns = Int(String(cString: text)), columns > 0 { return columns }
        return 80
    }

    /// Seconds of a monotonic clock.
    public static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Writes all of `text` to standard error, retrying on EINTR and short writes.
    public static func writeStandardError(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count, let base = buffer.baseAddress {
                let n = write(STDERR_FILENO, base + offset, buffer.count - offset)
                if n < 0 { if errno == EINTR { continue } else { return } }
                offset += n
            }
        }
    }
}
