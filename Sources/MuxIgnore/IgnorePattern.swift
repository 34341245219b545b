// IgnorePattern: one compiled gitignore rule.
//
// Parsing follows gitignore(5) and git's dir.c exactly:
//   - a blank line or a line starting with `#` is no rule (`\#` escapes a leading hash);
//   - one trailing CR is dropped (CRLF files), then trailing spaces are trimmed unless the
//     last one is escaped with `\` (tabs are not trimmed);
//   - a leading `!` negates (`\!` escapes a leading bang);
//   - a trailing `/` restricts the rule to directories and is removed;
//   - a pattern with no other `/` matches a name at any depth below its directory; a `/` at
//     the start or in the middle anchors it to its directory (`baseDirectory`);
//   - the rest is a glob for `wildmatch` (see GlobMatch.swift).

// MARK: - IgnorePattern

/// One gitignore rule, parsed and compiled for fast matching.
///
/// Matching a single pattern does not apply precedence or the parent-directory rule;
/// `IgnoreRules` does that. Paths are relative to the sync root, `/`-separated, with no
/// leading `./` and no trailing `/`.
public struct IgnorePattern: Sendable, Hashable, CustomStringConvertible {
    /// The pattern body as git stores it: no leading `!`, no trailing `/`, trailing spaces
    /// trimmed, escapes and a leading `/` kept.
    public let pattern: String
    /// The directory whose ignore file holds the rule (`""` = the root), `/`-separated.
    public let baseDirectory: String
    /// 1-based line number in its source, or the 1-based position of an `--exclude`
    /// argument; 0 when the pattern was built on its own.
    public let lineNumber: Int
    /// `!pattern`: a match re-includes the path.
    public let isNegated: Bool
    /// `pattern/`: the rule only matches directories.
    public let isDirectoryOnly: Bool
    /// True when the pattern has no slash (other than a trailing one): it matches the last
    /// path component at any depth below `baseDirectory`. False: it is anchored and
    /// matched against the path relative to `baseDirectory`.
    public let matchesNameAtAnyDepth: Bool

    // MARK: Compiled form

    /// Pattern body bytes (what `pattern` holds).
    let bytes: [UInt8]
    /// `baseDirectory` bytes.
    let baseBytes: [UInt8]
    /// Offsets and flags for matching; `rule.start` is 0 (into `bytes`).
    let rule: CompiledRule

    // MARK: Parsing

    /// Parses one line of a gitignore-syntax file.
    ///
    /// Returns nil for a blank line, a comment, or a line that can never match (such as
    /// `!` or `/` alone). `line` must not contain a line feed; use
    /// `IgnorePattern.parse(fileContents:baseDirectory:)` for whole files.
    /// - Parameters:
    ///   - line: the line, with or without a trailing CR.
    ///   - baseDirectory: the directory holding the file, relative to the root (`""` = root).
    ///   - lineNumber: the 1-based line number, reported by `IgnoreRules.explain`.
    public init?(line: String, baseDirectory: String = "", lineNumber: Int = 0) {
        self.init(lineBytes: Array(line.utf8), baseDirectory: baseDirectory,
                  lineNumber: lineNumber)
    }

    /// One line of a file as bytes (without its LF), as git's add_patterns_from_buffer
    /// handles it: the blank and comment checks come before CR removal and trimming.
    init?(lineBytes: [UInt8], baseDirectory: String, lineNumber: Int) {
        var bytes = lineBytes
        guard let first = bytes.first, first != Byte.hash else { return nil }
        if bytes.last == Byte.carriageReturn { bytes.removeLast() }
        IgnorePattern.trimTrailingSpaces(&bytes)
        self.init(rawPattern: bytes, baseDirectory: baseDirectory, lineNumber: lineNumber)
    }

    /// Builds a rule from a command-line `--exclude` value, taken verbatim as git's
    /// `--exclude` does: no comment handling, no trimming (`#x` matches a file named `#x`).
    /// Returns nil for an empty value or one that can never match.
    public init?(exclude: String, baseDirectory: String = "", lineNumber: Int = 0) {
        self.init(rawPattern: Array(exclude.utf8), baseDirectory: baseDirectory,
                  lineNumber: lineNumber)
    }

    /// git's parse_path_pattern on an already trimmed line.
    init?(rawPattern: [UInt8], baseDirectory: String, lineNumber: Int) {
        var body = rawPattern[...]
        var negated = false
        if body.first == Byte.bang {
            negated = true
            body = body.dropFirst()
        }
        var directoryOnly = false
        if body.last == Byte.slash {
            directoryOnly = true
            body = body.dropLast()
        }
        guard !body.isEmpty else { return nil }
        let bytes = Array(body)
        var literal = 0
        while literal < bytes.count && !Byte.isGlobSpecial(bytes[literal]) { literal += 1 }
        let suffixLiteral = bytes[0] == Byte.star
            && !bytes.dropFirst().contains(where: Byte.isGlobSpecial)
        let anyDepth = !bytes.contains(Byte.slash)
        var suffix = 0
        while suffix < bytes.count {
            let byte = bytes[bytes.count - 1 - suffix]
            // Stop at `/` too: `**/` may match nothing, slash included.
            if Byte.isGlobSpecial(byte) || byte == Byte.closeBracket || byte == Byte.slash {
                break
            }
            suffix += 1
        }

        var base = Array(baseDirectory.utf8)
        while base.last == Byte.slash { base.removeLast() }
        self.bytes = bytes
        self.baseBytes = base
        self.baseDirectory = String(decoding: base, as: UTF8.self)
        self.pattern = String(decoding: bytes, as: UTF8.self)
        self.lineNumber = lineNumber
        self.isNegated = negated
        self.isDirectoryOnly = directoryOnly
        self.matchesNameAtAnyDepth = anyDepth
        self.rule = CompiledRule(start: 0, count: bytes.count, literalPrefix: literal,
                                 isNegated: negated, isDirectoryOnly: directoryOnly,
                                 matchesBasename: anyDepth, isSuffixLiteral: suffixLiteral,
                                 literalSuffix: suffix)
    }

    /// git's trim_trailing_spaces: drop trailing spaces unless the first of them is escaped.
    static func trimTrailingSpaces(_ bytes: inout [UInt8]) {
        var lastSpace: Int?
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case Byte.space:
                if lastSpace == nil { lastSpace = index }
            case Byte.backslash:
                index += 1
                if index >= bytes.count { return }
                lastSpace = nil
            default:
                lastSpace = nil
            }
            index += 1
        }
        if let lastSpace { bytes.removeSubrange(lastSpace...) }
    }

    // MARK: Display

    /// The rule as `git check-ignore -v` prints it: `!` if negated, the body, `/` if
    /// directory-only.
    public var description: String {
        (isNegated ? "!" : "") + pattern + (isDirectoryOnly ? "/" : "")
    }

    // MARK: Matching

    /// Whether this rule alone matches `path` (ignoring negation, precedence and parent
    /// directories). False when `path` is not strictly below `baseDirectory`.
    /// - Parameters:
    ///   - path: relative to the root, `/`-separated, no leading `./`, no trailing `/`.
    ///   - isDirectory: whether `path` names a directory.
    ///   - caseInsensitive: fold ASCII case as git does with `core.ignorecase`.
    public func matches(_ path: String, isDirectory: Bool, caseInsensitive: Bool = false) -> Bool {
        var path = path
        return path.withUTF8 { buffer in
            guard PathBytes.isStrictlyBelow(buffer, directory: baseBytes,
                                            caseFold: caseInsensitive) else { return false }
            return bytes.withUnsafeBufferPointer { storage in
                baseBytes.withUnsafeBufferPointer { base in
                    rule.matches(storage: storage, base: base, path: buffer,
                                 nameStart: PathBytes.basenameStart(buffer),
                                 isDirectory: isDirectory, caseFold: caseInsensitive)
                }
            }
        }
    }
}
