// ProgressFormat: the one-line progress display and the final summary line, as pure text.

// MARK: - Snapshot

/// The state a progress line shows.
public struct ProgressSnapshot: Sendable, Equatable {
    /// Files finished (sent or failed).
    public var filesDone: Int
    /// Files planned.
    public var filesTotal: Int
    /// Bytes of file content transferred so far.
    public var bytesDone: UInt64
    /// Bytes of file content planned.
    public var bytesTotal: UInt64
    /// Files that failed so far.
    public var failed: Int
    /// Seconds since the transfer began.
    public var elapsed: Double
    /// The file being transferred, if any.
    public var currentPath: String?

    /// Creates a snapshot.
    public init(filesDone: Int = 0, filesTotal: Int = 0, bytesDone: UInt64 = 0, bytesTotal: UInt64 = 0,
                failed: Int = 0, elapsed: Double = 0, currentPath: String? = nil) {
        self.filesDone = filesDone
        self.filesTotal = filesTotal
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
        self.failed = failed
        self.elapsed = elapsed
        self.currentPath = currentPath
    }

    /// Average rate so far in bytes per second (0 before any time has passed).
    public var bytesPerSecond: Double {
        elapsed > 0 ? Double(bytesDone) / elapsed : 0
    }

    /// Estimated seconds left at the average rate; nil when unknown (no progress yet).
    public var secondsRemaining: Double? {
        if bytesDone >= bytesTotal { return 0 }
        let rate = bytesPerSecond
        guard rate > 0 else { return nil }
        return Double(bytesTotal - bytesDone) / rate
    }
}

// MARK: - Formatting

/// Text of the progress line and the summary line.
public enum ProgressFormat {
    /// One progress line of at most `width` characters (at least 1), e.g.
    /// "12/37 files  27%  1.2 MB/4.5 MB  3.4 MB/s  ETA 2 s  src/main.c".
    /// The path is shortened from the left ("...c/main.c") first; if the counters alone
    /// are too wide, the line is cut at the end.
    public static func line(_ s: ProgressSnapshot, width: Int) -> String {
        var parts = ["\(s.filesDone)/\(s.filesTotal) files"]
        if s.bytesTotal > 0 {
            let percent = min(100, Int(Double(s.bytesDone) * 100 / Double(s.bytesTotal)))
            parts.append("\(percent)%")
        }
        parts.append(HumanFormat.bytes(s.bytesDone) + "/" + HumanFormat.bytes(s.bytesTotal))
        parts.append(HumanFormat.rate(s.bytesPerSecond))
        parts.append("ETA " + (s.secondsRemaining.map(HumanFormat.eta) ?? "--"))
        if s.failed > 0 { parts.append("\(s.failed) failed") }
        let fixedPart = parts.joined(separator: "  ")
        return fit(fixed: fixedPart, path: s.currentPath, width: width)
    }

    /// The closing line, e.g. "sent 37 files, 1.2 MB (wire 1.3 MB) in 0.84 s, 1 failed".
    ///
    /// - Parameters:
    ///   - verb: what happened to the files ("sent", "received", "would send").
    ///   - wireBytes: bytes that crossed the network, shown when given.
    ///   - extra: further clauses after the time, e.g. ["3 deleted"].
    ///   - failed: shown only when non-zero.
    public static func summary(verb: String = "sent", files: Int, bytes: UInt64, wireBytes: UInt64? = nil,
                               seconds: Double, extra: [String] = [], failed: Int = 0) -> String {
        var text = "\(verb) " + HumanFormat.count(files, "file") + ", " + HumanFormat.bytes(bytes)
        if let wireBytes { text += " (wire " + HumanFormat.bytes(wireBytes) + ")" }
        text += " in " + HumanFormat.duration(seconds)
        for clause in extra where !clause.isEmpty { text += ", " + clause }
        if failed > 0 { text += ", \(failed) failed" }
        return text
    }

    // MARK: Fitting

    /// Joins the counters and the path within `width` characters.
    static func fit(fixed: String, path: String?, width: Int) -> String {
        let width = max(1, width)
        let fixedCount = fixed.count
        if fixedCount >= width { return truncateEnd(fixed, to: width) }
        guard let path, !path.isEmpty else { return fixed }
        let room = width - fixedCount - 2
        if room < 4 { return fixed }
        return fixed + "  " + truncateStart(path, to: room)
    }

    /// Keeps the last `limit` characters, marking the cut with a leading "...".
    static func truncateStart(_ text: String, to limit: Int) -> String {
        let clean = printable(text)
        guard clean.count > limit else { return clean }
        guard limit > 3 else { return String(clean.suffix(max(0, limit))) }
        return "..." + clean.suffix(limit - 3)
    }

    /// Keeps the first `limit` characters.
    static func truncateEnd(_ text: String, to limit: Int) -> String {
        text.count > limit ? String(text.prefix(limit)) : text
    }

    /// Replaces control characters (a newline in a file name would break the line) with "?".
    static func printable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            out.append(scalar.value < 0x20 || scalar.value == 0x7F ? "?" : scalar)
        }
        return String(out)
    }
}
