#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import MuxTransport

// MARK: - What watch tells the user

/// One thing that happened during a watch, for the status line, log lines
/// and `--json`.
public enum WatchEvent: Sendable {
    case connecting(String)
    case connected(String)
    case disconnected(String)
    case reconnecting(attempt: Int, delay: Double)
    case initialSync(String)
    case sent(path: String, bytes: UInt64, latency: Double?, delta: Bool)
    case removed(String)
    case renamed(from: String, to: String)
    case conflict(String)
    case failed(path: String, message: String)
    case warning(String)
    case watching(source: String, files: Int)
}

/// Renders watch events: a live status line on a terminal, plain lines
/// otherwise, one JSON object per line with `--json`.
public final class WatchStatus: @unchecked Sendable {
    public enum Mode: Sendable { case tty, plain, json, quiet }

    private struct State {
        var connection = "starting"
        var files = 0
        var lastLatency: Double?
        var queue = 0
        var lineShown = false
    }

    public let mode: Mode
    /// Put before every plain line (the host, when watching several).
    public let prefix: String
    private let state = Locked(State())
    private let output: @Sendable (String) -> Void

    public init(mode: Mode, prefix: String = "", output: @escaping @Sendable (String) -> Void = { text in
        StandardStream.error.write(text)
    }) {
        self.mode = mode
        self.prefix = prefix
        self.output = output
    }

    /// A live status line on a terminal; plain lines elsewhere or with a prefix
    /// (several hosts cannot share one status line); JSON on stdout.
    public static func forStandardError(json: Bool, quiet: Bool, prefix: String = "") -> WatchStatus {
        if json {
            return WatchStatus(mode: .json, prefix: prefix, output: { text in StandardStream.output.write(text) })
        }
        if quiet { return WatchStatus(mode: .quiet, prefix: prefix) }
        return WatchStatus(mode: isatty(STDERR_FILENO) == 1 && prefix.isEmpty ? .tty : .plain, prefix: prefix)
    }

    /// Connection state, files in step, last latency and queue, for `muxsync status`.
    public var snapshot: (connection: String, files: Int, lastLatency: Double?, queue: Int) {
        state.withLock { ($0.connection, $0.files, $0.lastLatency, $0.queue) }
    }

    /// The queue of changes not yet on the remote.
    public func setQueue(_ count: Int) {
        let redraw = state.withLock { s -> Bool in
            defer { s.queue = count }
            return s.queue != count
        }
        if redraw && mode == .tty { drawStatus() }
    }

    public func adjustFiles(_ delta: Int) { state.withLock { $0.files = max(0, $0.files + delta) } }

    public func emit(_ event: WatchEvent) {
        state.withLock { s in
            switch event {
            case .connected(let endpoint): s.connection = "connected \(endpoint)"
            case .disconnected: s.connection = "disconnected"
            case .reconnecting(let attempt, _): s.connection = "reconnecting (attempt \(attempt))"
            case .connecting(let endpoint): s.connection = "connecting \(endpoint)"
            case .sent(_, _, let latency, _): if let latency { s.lastLatency = latency }
            case .watching(_, let files): s.files = files
            default: break
            }
        }
        switch mode {
        case .quiet:
            if case .failed = event { output(prefix + Self.plainText(event) + "\n") }
            if case .conflict = event { output(prefix + Self.plainText(event) + "\n") }
        case .json:
            output(Self.json(event, host: prefix.isEmpty ? nil : String(prefix.dropLast(2))) + "\n")
        case .plain:
            output(Self.timestamp() + " " + prefix + Self.plainText(event) + "\n")
        case .tty:
            clearStatus()
            if Self.isWorthALine(event) { output(Self.plainText(event) + "\n") }
            drawStatus()
        }
    }

    /// Removes the status line (before exiting).
    public func finish() {
        if mode == .tty { clearStatus() }
    }

    // MARK: Rendering

    private func drawStatus() {
        let line = state.withLock { s -> String in
            s.lineShown = true
            var parts = ["● \(s.connection)", "\(s.files) files in step"]
            if let latency = s.lastLatency { parts.append("last save \(Self.milliseconds(latency))") }
            parts.append("queue \(s.queue)")
            return parts.joined(separator: " · ")
        }
        output("\r\u{1B}[2K" + String(line.prefix(max(20, ProgressReporter.terminalWidth() - 1))))
    }

    private func clearStatus() {
        let shown = state.withLock { s -> Bool in
            defer { s.lineShown = false }
            return s.lineShown
        }
        if shown { output("\r\u{1B}[2K") }
    }

    static func isWorthALine(_ event: WatchEvent) -> Bool {
        switch event {
        case .sent, .removed, .renamed: return true
        case .connected, .disconnected, .conflict, .failed, .warning, .initialSync, .watching: return true
        case .connecting, .reconnecting: return false
        }
    }

    static func plainText(_ event: WatchEvent) -> String {
        switch event {
        case .connecting(let endpoint): return "connecting to \(endpoint)"
        case .connected(let endpoint): return "connected to \(endpoint)"
        case .disconnected(let why): return "connection lost: \(why); changes are kept and sent after reconnecting"
        case .reconnecting(let attempt, let delay): return "reconnecting (attempt \(attempt)) in \(HumanFormat.fixed(delay, decimals: 1)) s"
        case .initialSync(let summary): return "initial sync: \(summary)"
        case .sent(let path, let bytes, let latency, let delta):
            var text = "sent \(path) (\(HumanFormat.bytes(bytes))\(delta ? " as delta" : "")"
            if let latency { text += ", \(milliseconds(latency)) after save" }
            return text + ")"
        case .removed(let path): return "removed \(path)"
        case .renamed(let from, let to): return "renamed \(from) -> \(to)"
        case .conflict(let text): return text
        case .failed(let path, let message): return path.isEmpty ? "error: \(message)" : "error: \(path): \(message)"
        case .warning(let text): return "warning: \(text)"
        case .watching(let source, let files): return "watching \(files) files (\(source)); Ctrl-C to stop"
        }
    }

    static func json(_ event: WatchEvent, host: String? = nil) -> String {
        var object: [String: JSONScalar] = ["time": .number(Date().timeIntervalSince1970)]
        if let host { object["destination"] = .init(host) }
        switch event {
        case .connecting(let endpoint): object["event"] = .init("connecting"); object["endpoint"] = .init(endpoint)
        case .connected(let endpoint): object["event"] = .init("connected"); object["endpoint"] = .init(endpoint)
        case .disconnected(let why): object["event"] = .init("disconnected"); object["reason"] = .init(why)
        case .reconnecting(let attempt, let delay):
            object["event"] = .init("reconnecting"); object["attempt"] = .init(attempt); object["delay_s"] = .init(delay)
        case .initialSync(let summary): object["event"] = .init("initial_sync"); object["summary"] = .init(summary)
        case .sent(let path, let bytes, let latency, let delta):
            object["event"] = .init("sent"); object["path"] = .init(path); object["bytes"] = .init(bytes); object["delta"] = .init(delta)
            if let latency { object["latency_ms"] = .init((latency * 1000).rounded()) }
        case .removed(let path): object["event"] = .init("removed"); object["path"] = .init(path)
        case .renamed(let from, let to): object["event"] = .init("renamed"); object["from"] = .init(from); object["to"] = .init(to)
        case .conflict(let text): object["event"] = .init("conflict"); object["message"] = .init(text)
        case .failed(let path, let message): object["event"] = .init("error"); object["path"] = .init(path); object["message"] = .init(message)
        case .warning(let text): object["event"] = .init("warning"); object["message"] = .init(text)
        case .watching(let source, let files): object["event"] = .init("watching"); object["source"] = .init(source); object["files"] = .init(files)
        }
        return JSONScalar.object(object)
    }

    static func milliseconds(_ seconds: Double) -> String {
        seconds < 1 ? "\(Int((seconds * 1000).rounded())) ms" : HumanFormat.fixed(seconds, decimals: 2) + " s"
    }

    /// The local time of day as HH:mm:ss.SSS.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var local = tm()
        localtime_r(&seconds, &local)
        func digits(_ value: Int, _ count: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, count - text.count)) + text
        }
        return "\(digits(Int(local.tm_hour), 2)):\(digits(Int(local.tm_min), 2)):\(digits(Int(local.tm_sec), 2))."
            + digits(Int(now.tv_nsec) / 1_000_000, 3)
    }
}
