// GitOracleTests: IgnoreRules against real git on several hundred generated cases.
//
// About the parent-directory rule: `git check-ignore` (checked with git 2.39) does apply
// it. Its prep_exclude() walks the path's directories from the top and, when one is
// excluded, reports the rule that excluded that directory for every path below it, even a
// path a later `!rule` names. So every path of every case is compared, including paths
// below excluded directories, and the comparison is of the full `source:line:pattern`
// verdict (what `explain` returns), not only of ignored/not ignored. The scanner's fast
// path `isIgnoredIgnoringParents` is compared on the paths whose ancestors git reports as
// included, the only paths the scanner asks it about.

import Foundation
import MuxIgnore
import Testing

@Suite("git oracle")
struct GitOracleTests {
    /// Cases per check-ignore batch (8 batches). MUXIGNORE_ORACLE_CASES raises it for a
    /// soak run; the default keeps the suite at a few seconds.
    static let casesPerBatch: Int = {
        guard let value = ProcessInfo.processInfo.environment["MUXIGNORE_ORACLE_CASES"],
              let count = Int(value), count > 0 else { return 50 }
        return count
    }()

    /// Counters proving the generated cases exercise what they are meant to.
    struct Coverage {
        var cases = 0
        var paths = 0
        var ignored = 0
        var negated = 0
        var inherited = 0
        var nested = 0
        var defaults = 0
        var global = 0
        var caseInsensitive = 0
        var fastPath = 0
    }

    // MARK: check-ignore

    @Test("git check-ignore -v agrees with explain/isIgnored on every path",
          .enabled(if: OracleWorkspace.gitIsAvailable), arguments: 0..<8)
    func checkIgnoreOracle(batch: Int) throws {
        var coverage = Coverage()
        for offset in 0..<Self.casesPerBatch {
            let seed = UInt64(batch * 1_000_000 + offset)
            var generator = OracleCaseGenerator(seed: seed)
            let oracleCase = generator.makeCase(withCommandLine: false)
            let workspace = try OracleWorkspace(oracleCase)
            defer { workspace.remove() }
            let verdicts = try workspace.checkIgnore()
            let mismatches = compare(oracleCase, verdicts, &coverage)
            #expect(mismatches.isEmpty, """
                seed \(seed): \(mismatches.count) mismatches
                \(oracleCase)
                \(mismatches.prefix(8).joined(separator: "\n"))
                """)
        }
        // The batch must really exercise the rules, not pass vacuously.
        let scale = Self.casesPerBatch
        #expect(coverage.cases == scale)
        #expect(coverage.paths > 20 * scale)
        #expect(coverage.ignored > 2 * scale)
        #expect(coverage.negated > scale / 10)
        #expect(coverage.inherited > scale / 2)
        #expect(coverage.nested > scale / 10)
        #expect(coverage.defaults > 0)
        #expect(coverage.global > 0)
        #expect(coverage.caseInsensitive > 0)
        #expect(coverage.fastPath > 10 * scale)
        print("oracle batch \(batch): \(coverage)")
    }

    private func compare(_ oracleCase: OracleCase, _ verdicts: [String: GitVerdict?],
                         _ coverage: inout Coverage) -> [String] {
        let rules = oracleCase.rules()
        var mismatches: [String] = []
        coverage.cases += 1
        if oracleCase.caseInsensitive { coverage.caseInsensitive += 1 }
        for entry in oracleCase.entries {
            let kind = entry.isDirectory ? "dir " : "file"
            guard let verdict = verdicts[entry.path] else {
                mismatches.append("git printed nothing for \(entry.path.debugDescription)")
                continue
            }
            let gitIgnored = verdict?.isIgnored ?? false
            let match = rules.explain(entry.path, isDirectory: entry.isDirectory)
            let ours = match.map { "\($0.source):\($0.pattern.lineNumber):\($0.pattern)" }
            if ours != verdict?.description {
                mismatches.append("\(kind) \(entry.path.debugDescription): git \(verdict?.description ?? "-") ours \(ours ?? "-")")
            }
            if rules.isIgnored(entry.path, isDirectory: entry.isDirectory) != gitIgnored {
                mismatches.append("\(kind) \(entry.path.debugDescription): isIgnored != git \(gitIgnored)")
            }
            if ancestorsIncluded(entry.path, verdicts) {
                coverage.fastPath += 1
                let fast = rules.isIgnoredIgnoringParents(entry.path, isDirectory: entry.isDirectory)
                if fast != gitIgnored {
                    mismatches.append("\(kind) \(entry.path.debugDescription): fast path \(fast) != git \(gitIgnored)")
                }
            }
            coverage.paths += 1
            if gitIgnored { coverage.ignored += 1 }
            if let verdict, !verdict.isIgnored { coverage.negated += 1 }
            if let match, match.isInheritedFromParent { coverage.inherited += 1 }
            if let verdict, verdict.source.contains("/") { coverage.nested += 1 }
            if verdict?.source == IgnoreSource.defaults.description { coverage.defaults += 1 }
            if verdict?.source == IgnoreSource.global.description { coverage.global += 1 }
        }
        return mismatches
    }

    private func ancestorsIncluded(_ path: String, _ verdicts: [String: GitVerdict?]) -> Bool {
        var prefix = ""
        for component in path.split(separator: "/").dropLast() {
            prefix += prefix.isEmpty ? String(component) : "/" + component
            if let verdict = verdicts[prefix] ?? nil, verdict.isIgnored { return false }
        }
        return true
    }

    // MARK: ls-files with --exclude (the .muxsyncignore and --exclude sources)

    @Test("git ls-files -o -i --exclude agrees with .muxsyncignore + --exclude precedence",
          .enabled(if: OracleWorkspace.gitIsAvailable), arguments: 0..<4)
    func commandLineOracle(batch: Int) throws {
        var ignoredTotal = 0
        var commandLineDecided = 0
        for offset in 0..<Self.casesPerBatch {
            let seed = UInt64(100_000_000 + batch * 1_000_000 + offset)
            var generator = OracleCaseGenerator(seed: seed)
            let oracleCase = generator.makeCase(withCommandLine: true)
            let workspace = try OracleWorkspace(oracleCase)
            defer { workspace.remove() }
            // .muxsyncignore rules as git --exclude values (same pattern, same order), then
            // the --exclude values themselves: one list above every .gitignore.
            let muxsync = oracleCase.muxsyncignore.map {
                IgnorePattern.parse(fileContents: $0).map(\.description)
            } ?? []
            let gitIgnored = try workspace.ignoredFiles(excludes: muxsync + oracleCase.excludes)
            let rules = oracleCase.rules()
            let files = oracleCase.entries.filter { !$0.isDirectory }.map(\.path)
            let ours = Set(files.filter { rules.isIgnored($0, isDirectory: false) })
            #expect(ours == gitIgnored, """
                seed \(seed)
                \(oracleCase)
                only ours: \(ours.subtracting(gitIgnored).sorted())
                only git: \(gitIgnored.subtracting(ours).sorted())
                """)
            ignoredTotal += ours.count
            commandLineDecided += files.filter {
                guard let source = rules.explain($0, isDirectory: false)?.source else { return false }
                return source == .muxsyncignore || source == .commandLine
            }.count
        }
        #expect(ignoredTotal > Self.casesPerBatch)
        #expect(commandLineDecided > Self.casesPerBatch / 2)
    }

    // MARK: The parent rule, pinned down explicitly

    @Test("git and explain both attribute files below an excluded directory to that directory",
          .enabled(if: OracleWorkspace.gitIsAvailable))
    func parentRuleMatchesGit() throws {
        var oracleCase = OracleCase()
        oracleCase.entries = [("build", true), ("build/keep.txt", false), ("build/sub", true),
                              ("build/sub/x", false), ("src", true), ("src/a.o", false),
                              ("src/keep.o", false), (".gitignore", false)]
        oracleCase.gitignores[""] = "build/\n!build/keep.txt\n*.o\n!keep.o\n"
        let workspace = try OracleWorkspace(oracleCase)
        defer { workspace.remove() }
        let verdicts = try workspace.checkIgnore()
        // git: the later !build/keep.txt cannot re-include a file in an excluded directory.
        #expect(verdicts["build/keep.txt"]??.description == ".gitignore:1:build/")
        #expect(verdicts["build/sub/x"]??.description == ".gitignore:1:build/")
        #expect(verdicts["src/keep.o"]??.description == ".gitignore:4:!keep.o")
        let rules = oracleCase.rules()
        let keep = try #require(rules.explain("build/keep.txt", isDirectory: false))
        #expect(keep.isIgnored)
        #expect(keep.matchedPath == "build")
        #expect(keep.isInheritedFromParent)
        #expect(keep.description == ".gitignore:1:build/\tbuild/keep.txt")
        // The fast path looks at the path alone: it sees !build/keep.txt.
        #expect(!rules.isIgnoredIgnoringParents("build/keep.txt", isDirectory: false))
        #expect(rules.isIgnored("build/keep.txt", isDirectory: false))
        #expect(!rules.isIgnored("src/keep.o", isDirectory: false))
    }
}
