// IgnoreDefaults: the rules muxsync applies unless told not to.
//
// They have the lowest precedence, so any .gitignore, the .muxsyncignore or an --exclude
// can re-include what they exclude (for example `!*.swp`), except below an excluded
// directory (git's parent rule: `!.git/config` cannot bring back a file inside `.git/`).
// Turn them off with `IgnoreRules(useDefaults: false)`.

// MARK: - Default patterns

extension IgnoreRules {
    /// muxsync's default ignore rules, in gitignore syntax (reported as source `<defaults>`,
    /// line = 1-based index in this list).
    ///
    /// - Version control metadata: `.git` (directory, or the `.git` file of a worktree or
    ///   submodule), `.hg/`, `.svn/`.
    /// - muxsync's own local state: `.muxsync/` (syncing it would feed the watcher its own
    ///   writes and overwrite the remote's state).
    /// - Python caches: `__pycache__/`, `*.pyc`, `.mypy_cache/`, `.pytest_cache/`,
    ///   `.ipynb_checkpoints/`.
    /// - macOS Finder metadata: `.DS_Store`.
    /// - Editor droppings: Vim swap files `*.swp` `*.swo` `*.swx` and its write probe `4913`;
    ///   backups `*~`; Emacs lock files `.#*` and auto-saves `#*#`; JetBrains safe-write
    ///   temporaries `*___jb_tmp___` and `*___jb_old___`.
    ///
    /// A generic `*.tmp` is deliberately not included: it would hide real project files,
    /// and no editor muxsync targets writes `*.tmp` as its safe-write temporary.
    public static let defaultPatterns: [String] = [
        ".git",
        ".hg/",
        ".svn/",
        ".muxsync/",
        "__pycache__/",
        "*.pyc",
        ".mypy_cache/",
        ".pytest_cache/",
        ".ipynb_checkpoints/",
        ".DS_Store",
        "*.swp",
        "*.swo",
        "*.swx",
        "4913",
        "*~",
        ".#*",
        "\\#*#",
        "*___jb_tmp___",
        "*___jb_old___",
    ]

    /// The default rules compiled once.
    static let defaultList = IgnorePatternList(
        source: .defaults, base: "",
        patterns: defaultPatterns.enumerated().compactMap { offset, line in
            IgnorePattern(line: line, baseDirectory: "", lineNumber: offset + 1)
        })
}
