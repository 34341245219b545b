// IgnoreMatch: which rule, from which source, decided about a path.
//
// `IgnoreRules.explain` returns one of these for `muxsync check-ignore`-style output. Like
// `git check-ignore -v`, a match may be a negated rule (the path is then *not* ignored),
// and a path below an excluded directory is explained by the rule that excluded the
// directory (`matchedPath` is then that directory).

// MARK: - IgnoreSource

/// Where a rule came from. Listed from lowest to highest precedence.
public enum IgnoreSource: Sendable, Hashable, CustomStringConvertible {
    /// muxsync's built-in defaults (`IgnoreRules.defaultPatterns`).
    case defaults
    /// A user-wide ignore file (for example git's `core.excludesFile`), rooted at the root.
    case global
    /// The `.gitignore` in `directory` (`""` = the root); deeper files take precedence.
    case gitignore(directory: String)
    /// The project's `.muxsyncignore` at the root.
    case muxsyncignore
    /// `--exclude` patterns from the command line.
    case commandLine

    /// A short name in the style of `git check-ignore -v`: `<defaults>`, `<global>`,
    /// `a/b/.gitignore`, `.muxsyncignore`, `--exclude`.
    public var description: String {
        switch self {
        case .defaults: return "<defaults>"
        case .global: return "<global>"
        case .gitignore(let directory):
            return directory.isEmpty ? IgnoreRules.gitignoreFileName
                : directory + "/" + IgnoreRules.gitignoreFileName
        case .muxsyncignore: return IgnoreRules.muxsyncignoreFileName
        case .commandLine: return "--exclude"
        }
    }

    /// Rank in the precedence order (higher wins); gitignores rank by depth.
    var rank: Int {
        switch self {
        case .defaults: return 0
        case .global: return 1
        case .gitignore: return 2
        case .muxsyncignore: return 3
        case .commandLine: return 4
        }
    }
}

// MARK: - IgnoreMatch

/// The rule that decided about a path.
public struct IgnoreMatch: Sendable, Hashable, CustomStringConvertible {
    /// The deciding rule (negated rules decide "not ignored").
    public let pattern: IgnorePattern
    /// The rule's source.
    public let source: IgnoreSource
    /// The path the rule matched: the queried path, or the excluded ancestor directory that
    /// makes the queried path ignored.
    public let matchedPath: String
    /// The path that was asked about.
    public let path: String

    /// Whether the path is ignored (the deciding rule is not a negation).
    public var isIgnored: Bool { !pattern.isNegated }

    /// Whether the decision came from an excluded ancestor directory rather than from a rule
    /// matching the path itself.
    public var isInheritedFromParent: Bool { matchedPath != path }

    /// `source:line:pattern<TAB>path`, like `git check-ignore -v`.
    public var description: String {
        "\(source):\(pattern.lineNumber):\(pattern)\t\(path)"
    }

    /// Creates a match record.
    public init(pattern: IgnorePattern, source: IgnoreSource, matchedPath: String, path: String) {
        self.pattern = pattern
        self.source = source
        self.matchedPath = matchedPath
        self.path = path
    }
}
