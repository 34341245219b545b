import Foundation

// MARK: - Names of files being written

/// Temporary names for files being written, on the remote (push) and locally
/// (pull). A file appears under its real name only when complete.
public enum TemporaryName {
    static let prefix = ".muxsync."
    static let uploadSuffix = ".tmp"
    static let partialSuffix = ".part"
    /// Beside a partial download: how much of it is complete.
    public static let offsetSuffix = ".offset"

    /// A fresh remote temporary name beside `name` (same directory, so the
    /// final rename is atomic): ".muxsync.NAME.RANDOM.tmp", under 255 bytes.
    public static func upload(for name: String) -> String {
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let room = 255 - prefix.utf8.count - uploadSuffix.utf8.count - random.utf8.count - 1
        return prefix + truncated(name, toBytes: room) + "." + random + uploadSuffix
    }

    /// The local partial-download name of a remote file version. The size and
    /// mtime are part of the name, so a partial of an older version is never
    /// resumed into a newer one.
    public static func partial(for name: String, size: UInt64, mtime: Int64) -> String {
        let version = "\(size)-\(mtime)"
        let room = 255 - prefix.utf8.count - partialSuffix.utf8.count - version.utf8.count - 1
        return prefix + truncated(name, toBytes: room) + "." + version + partialSuffix
    }

    /// True for names muxsync writes transiently (never synced, cleaned up).
    public static func isTemporary(_ name: String) -> Bool {
        name.hasPrefix(prefix)
            && (name.hasSuffix(uploadSuffix) || name.hasSuffix(partialSuffix) || name.hasSuffix(partialSuffix + offsetSuffix))
    }

    /// True for a partial download of `name` (any version).
    public static func isPartial(_ candidate: String, of name: String) -> Bool {
        candidate.hasPrefix(prefix + truncated(name, toBytes: 200))
            && (candidate.hasSuffix(partialSuffix) || candidate.hasSuffix(partialSuffix + offsetSuffix))
    }

    private static func truncated(_ name: String, toBytes limit: Int) -> String {
        guard name.utf8.count > limit else { return name }
        var result = ""
        for scalar in name.unicodeScalars {
            if result.utf8.count + String(scalar).utf8.count > limit { break }
            result.unicodeScalars.append(scalar)
        }
        return result
    }
}
