import Foundation
import MuxDelta

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
    /// resumed into a newer one; a hash of the full name's bytes keeps two long
    /// names (or the NFC and NFD spellings of one) from sharing a partial. The
    /// name leaves room for the `.offset` side file within 255 bytes.
    public static func partial(for name: String, size: UInt64, mtime: Int64) -> String {
        partialStem(for: name) + "." + "\(size)-\(mtime)" + partialSuffix
    }

    /// ".muxsync." + a readable part of the name + "." + 16 hex digits of its hash.
    static func partialStem(for name: String) -> String {
        let hash = Array(name.utf8).withUnsafeBytes { StrongHash.of($0) }
        let tag = String(hash.low, radix: 16)
        let digits = String(repeating: "0", count: 16 - tag.utf8.count) + tag
        // 255 - prefix - "." - 16 digits - "." - version (<= 41) - ".part.offset" - ".new" (its temp)
        let room = 255 - prefix.utf8.count - 1 - 16 - 1 - 41 - (partialSuffix + offsetSuffix).utf8.count - 4
        return prefix + truncated(name, toBytes: room) + "." + digits
    }

    /// True for names muxsync writes transiently (never synced, cleaned up).
    public static func isTemporary(_ name: String) -> Bool {
        name.hasPrefix(prefix)
            && (name.hasSuffix(uploadSuffix) || name.hasSuffix(partialSuffix) || name.hasSuffix(partialSuffix + offsetSuffix))
    }

    /// True for a partial download of exactly `name` (any version), compared
    /// byte for byte (Swift's String comparison would equate NFC and NFD).
    public static func isPartial(_ candidate: String, of name: String) -> Bool {
        let bytes = Array(candidate.utf8)
        return bytes.starts(with: Array((partialStem(for: name) + ".").utf8))
            && (bytes.ends(with: Array(partialSuffix.utf8)) || bytes.ends(with: Array((partialSuffix + offsetSuffix).utf8)))
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

extension Array where Element: Equatable {
    func ends(with suffix: [Element]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
