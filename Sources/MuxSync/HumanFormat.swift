// HumanFormat: byte sizes, rates and durations as short human-readable text.
// Pure and locale-independent (no Foundation formatters: output must be stable in tests).

// MARK: - HumanFormat

/// Short, stable renderings of sizes and times: "1.2 MB", "3.4 MB/s", "0.84 s", "1m05s".
public enum HumanFormat {
    private static let units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"]

    /// Decimal (1000-based) size with one decimal below 100 of a unit:
    /// 0 -> "0 B", 999 -> "999 B", 1234 -> "1.2 KB", 123_456_789 -> "123 MB".
    public static func bytes(_ count: UInt64) -> String {
        if count < 1000 { return "\(count) B" }
        var value = Double(count)
        var unit = 0
        while unit < units.count - 1 {
            value /= 1000
            unit += 1
            // Round first so that 999_960 shows as "1.0 MB", not "1000.0 KB".
            let shown = value < 100 ? (value * 10).rounded() / 10 : value.rounded()
            if shown < 1000 { break }
        }
        return number(value) + " " + units[unit]
    }

    /// A transfer rate: `bytes(perSecond)` + "/s"; "0 B/s" for a non-finite or negative rate.
    public static func rate(_ bytesPerSecond: Double) -> String {
        guard bytesPerSecond.isFinite, bytesPerSecond > 0 else { return "0 B/s" }
        return bytes(UInt64(min(bytesPerSecond.rounded(), Double(UInt64.max / 2)))) + "/s"
    }

    /// A duration: "0.84 s" below 10 s, "42.1 s" below a minute, then "1m05s", "2h03m".
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds > 0 else { return "0.00 s" }
        if seconds < 10 { return fixed(seconds, decimals: 2) + " s" }
        if seconds < 60 {
            let shown = (seconds * 10).rounded() / 10
            if shown < 60 { return fixed(seconds, decimals: 1) + " s" }
        }
        let total = Int(seconds.rounded())
        if total < 3600 { return "\(total / 60)m" + twoDigits(total % 60) + "s" }
        let minutes = (total + 30) / 60
        return "\(minutes / 60)h" + twoDigits(minutes % 60) + "m"
    }

    /// A remaining time for an ETA: whole seconds below a minute ("7 s"), then like
    /// `duration` ("1m05s"); "--" when unknown (not finite or negative).
    public static func eta(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--" }
        if seconds < 59.5 { return "\(Int(seconds.rounded(.up))) s" }
        return duration(seconds)
    }

    /// "1 file" / "2 files": `count` with the noun, plural unless exactly one.
    public static func count(_ count: Int, _ singular: String, _ plural: String? = nil) -> String {
        "\(count) " + (count == 1 ? singular : (plural ?? singular + "s"))
    }

    // MARK: Number text

    /// One decimal below 100, none from 100 on.
    private static func number(_ value: Double) -> String {
        value < 99.95 ? fixed(value, decimals: 1) : String(Int(value.rounded()))
    }

    /// `value` rounded to `decimals` places, e.g. fixed(0.835, decimals: 2) -> "0.84".
    static func fixed(_ value: Double, decimals: Int) -> String {
        var scale = 1
        for _ in 0..<decimals { scale *= 10 }
        let scaled = Int((value * Double(scale)).rounded())
        let whole = scaled / scale
        guard decimals > 0 else { return String(whole) }
        var fraction = String(scaled % scale)
        while fraction.count < decimals { fraction = "0" + fraction }
        return "\(whole).\(fraction)"
    }

    private static func twoDigits(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
}
