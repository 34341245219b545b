// IgnorePatternList: the rules of one source (one file, the defaults, the --exclude list).
//
// Within a list the last matching rule wins (git's last_matching_pattern_from_list), so a
// list is scanned from its end. Whole files are split as git splits them: on LF, with a
// UTF-8 byte order mark skipped, one CR before each LF dropped, and line numbers counted
// over every line (blank and comment lines included) so `explain` can cite them.

// MARK: - Parsing whole files

extension IgnorePattern {
    /// Parses the contents of a gitignore-syntax file (`.gitignore`, `.muxsyncignore`, a
    /// global excludes file). Blank and comment lines produce no rule but still count for
    /// line numbers.
    /// - Parameters:
    ///   - fileContents: the whole file.
    ///   - baseDirectory: the directory holding the file, relative to the root (`""` = root).
    public static func parse(fileContents: String, baseDirectory: String = "") -> [IgnorePattern] {
        var bytes = Array(fileContents.utf8)[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        var patterns: [IgnorePattern] = []
        var lineNumber = 0
        var lineStart = bytes.startIndex
        while lineStart < bytes.endIndex {
            lineNumber += 1
            let lineEnd = bytes[lineStart...].firstIndex(of: Byte.lineFeed) ?? bytes.endIndex
            if let pattern = IgnorePattern(lineBytes: Array(bytes[lineStart..<lineEnd]),
                                           baseDirectory: baseDirectory,
                                           lineNumber: lineNumber) {
                patterns.append(pattern)
            }
            lineStart = lineEnd == bytes.endIndex ? lineEnd : lineEnd + 1
        }
        return patterns
    }
}

// MARK: - IgnorePatternList

/// The ordered rules of one source, all sharing one base directory. Immutable; a class so
/// that reaching a list from the hot path costs one reference, not one per array.
final class IgnorePatternList: Sendable {
    /// Where the rules came from.
    let source: IgnoreSource
    /// The directory the rules are relative to (`[]` = root); they apply only below it.
    let base: [UInt8]
    /// The rules in file order, for reporting.
    let patterns: [IgnorePattern]
    /// The same rules compiled against `storage`, for matching.
    private let rules: [CompiledRule]
    /// Every rule's pattern bytes, back to back.
    private let storage: [UInt8]

    init(source: IgnoreSource, base: String, patterns: [IgnorePattern]) {
        self.source = source
        self.base = Array(base.utf8)
        self.patterns = patterns
        var storage: [UInt8] = []
        var rules: [CompiledRule] = []
        for pattern in patterns {
            let rule = pattern.rule
            rules.append(CompiledRule(start: storage.count, count: rule.count,
                                      literalPrefix: rule.literalPrefix,
                                      isNegated: rule.isNegated,
                                      isDirectoryOnly: rule.isDirectoryOnly,
                                      matchesBasename: rule.matchesBasename,
                                      isSuffixLiteral: rule.isSuffixLiteral,
                                      literalSuffix: rule.literalSuffix))
            storage += pattern.bytes
        }
        self.rules = rules
        self.storage = storage
    }

    /// Index of the last rule matching the path, or nil. The caller guarantees the path
    /// lies strictly below `base`.
    @inline(__always)
    func lastMatch(_ path: UnsafeBufferPointer<UInt8>, basenameStart: Int,
                   isDirectory: Bool, caseFold: Bool) -> Int? {
        rules.withUnsafeBufferPointer { rules in
            storage.withUnsafeBufferPointer { storage in
                base.withUnsafeBufferPointer { base in
                    var index = rules.count - 1
                    while index >= 0 {
                        if rules[index].matches(storage: storage, base: base, path: path,
                                                nameStart: basenameStart,
                                                isDirectory: isDirectory, caseFold: caseFold) {
                            return index
                        }
                        index -= 1
                    }
                    return nil
                }
            }
        }
    }
}
