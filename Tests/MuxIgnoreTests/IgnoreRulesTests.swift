// IgnoreRulesTests: precedence, nesting, the parent rule, defaults, explain, the fast path.

import MuxIgnore
import Testing

@Suite("IgnoreRules")
struct IgnoreRulesTests {
    // MARK: Precedence within and across sources

    @Test("the last matching rule in a file wins")
    func lastMatchWins() {
        var rules = IgnoreRules(useDefaults: false)
        rules.addGitignore("*.log\n!important.log\n", directory: "")
        #expect(rules.isIgnored("debug.log", isDirectory: false))
        #expect(!rules.isIgnored("important.log", isDirectory: false))
        rules.addGitignore("*.log\n!important.log\n*.log\n", directory: "")
        #expect(rules.isIgnored("important.log", isDirectory: false))
    }

    @Test("a nested .gitignore applies only below its directory and beats its ancestors")
    func nestedGitignore() {
        var rules = IgnoreRules(useDefaults: false)
        rules.addGitignore("*.dat\n", directory: "")
        rules.addGitignore("!*.dat\nlocal.txt\n", directory: "data")
        #expect(rules.isIgnored("top.dat", isDirectory: false))
        #expect(!rules.isIgnored("data/x.dat", isDirectory: false))
        #expect(!rules.isIgnored("data/deep/x.dat", isDirectory: false))
        #expect(rules.isIgnored("data/local.txt", isDirectory: false))
        #expect(!rules.isIgnored("local.txt", isDirectory: false))
        #expect(!rules.isIgnored("database/local.txt", isDirectory: false))
        #expect(rules.gitignoreDirectories == ["", "data"])
    }

    @Test("global < .gitignore < .muxsyncignore < --exclude")
    func sourcePrecedence() {
        var rules = IgnoreRules(useDefaults: false, globalIgnore: "*.bak\n*.tmp\n",
                                muxsyncignore: "!keep.tmp\nlarge/\n", excludes: ["*.iso", "!large"])
        rules.addGitignore("!*.bak\nkeep.tmp\n*.iso\n!*.iso\n", directory: "")
        #expect(!rules.isIgnored("a.bak", isDirectory: false))      // .gitignore beats global
        #expect(rules.isIgnored("a.tmp", isDirectory: false))       // global applies
        #expect(!rules.isIgnored("keep.tmp", isDirectory: false))   // .muxsyncignore beats .gitignore
        #expect(rules.isIgnored("disk.iso", isDirectory: false))    // --exclude beats .gitignore
        #expect(!rules.isIgnored("large", isDirectory: true))       // --exclude beats .muxsyncignore
        #expect(rules.explain("a.tmp", isDirectory: false)?.source == .global)
        #expect(rules.explain("keep.tmp", isDirectory: false)?.source == .muxsyncignore)
        #expect(rules.explain("disk.iso", isDirectory: false)?.source == .commandLine)
        #expect(rules.explain("disk.iso", isDirectory: false)?.pattern.lineNumber == 1)
    }

    // MARK: The parent rule

    @Test("nothing below an excluded directory can be re-included")
    func parentRule() {
        var rules = IgnoreRules(useDefaults: false)
        rules.addGitignore("build/\n!build/keep.txt\n", directory: "")
        rules.addGitignore("!keep.txt\n", directory: "build")
        #expect(rules.isIgnored("build", isDirectory: true))
        #expect(rules.isIgnored("build/keep.txt", isDirectory: false))
        #expect(rules.isIgnored("build/a/b/c.txt", isDirectory: false))
        // The fast path only judges the path itself.
        #expect(!rules.isIgnoredIgnoringParents("build/keep.txt", isDirectory: false))
    }

    @Test("dir/** keeps the directory, so a negation below it works")
    func starStarKeepsDirectory() {
        var rules = IgnoreRules(useDefaults: false)
        rules.addGitignore("vendor/**\n!vendor/keep/\n!vendor/keep/**\n", directory: "")
        #expect(!rules.isIgnored("vendor", isDirectory: true))
        #expect(rules.isIgnored("vendor/junk.c", isDirectory: false))
        #expect(!rules.isIgnored("vendor/keep", isDirectory: true))
        #expect(!rules.isIgnored("vendor/keep/a/b.c", isDirectory: false))
    }

    // MARK: Defaults

    @Test("defaults ignore VCS metadata, caches and editor droppings", arguments: [
        (".git", true), (".git", false), (".git/config", false), (".hg", true), (".svn", true),
        (".muxsync", true), ("src/__pycache__", true), ("a/b.pyc", false),
        (".mypy_cache", true), (".pytest_cache", true), ("nb/.ipynb_checkpoints", true),
        (".DS_Store", false), ("x/.DS_Store", false), ("main.c.swp", false), (".a.swo", false),
        ("b.swx", false), ("4913", false), ("notes.txt~", false), (".#main.c", false),
        ("#main.c#", false), ("Main.kt___jb_tmp___", false), ("Main.kt___jb_old___", false),
    ])
    func defaults(_ path: String, _ isDirectory: Bool) {
        #expect(IgnoreRules().isIgnored(path, isDirectory: isDirectory))
        #expect(!IgnoreRules(useDefaults: false).isIgnored(path, isDirectory: isDirectory))
        #expect(IgnoreRules().explain(path, isDirectory: isDirectory)?.source == .defaults)
    }

    @Test("defaults leave ordinary files alone and yield to every other source",
          arguments: ["main.c", "notes.tmp", "src/app.py", "pycache", "4913.txt", "a#b#c"])
    func defaultsSpareOrdinaryFiles(_ path: String) {
        #expect(!IgnoreRules().isIgnored(path, isDirectory: false))
    }

    @Test("a .gitignore can re-include what the defaults exclude, except inside .git")
    func overrideDefaults() {
        var rules = IgnoreRules()
        rules.addGitignore("!*.swp\n!.git/config\n", directory: "")
        #expect(!rules.isIgnored("session.swp", isDirectory: false))
        #expect(rules.isIgnored(".git/config", isDirectory: false))
    }

    // MARK: explain

    @Test("explain names the source, line and pattern like git check-ignore -v")
    func explain() throws {
        var rules = IgnoreRules(useDefaults: false)
        rules.addGitignore("# objects\n*.o\n!keep.o\nout/\n", directory: "src")
        let object = try #require(rules.explain("src/a/main.o", isDirectory: false))
        #expect(object.isIgnored)
        #expect(object.source == .gitignore(directory: "src"))
        #expect(object.description == "src/.gitignore:2:*.o\tsrc/a/main.o")
        let kept = try #require(rules.explain("src/keep.o", isDirectory: false))
        #expect(!kept.isIgnored)
        #expect(kept.description == "src/.gitignore:3:!keep.o\tsrc/keep.o")
        let inside = try #require(rules.explain("src/out/x/y.txt", isDirectory: false))
        #expect(inside.matchedPath == "src/out")
        #expect(inside.isInheritedFromParent)
        #expect(inside.pattern.description == "out/")
        #expect(rules.explain("README", isDirectory: false) == nil)
    }

    // MARK: The scanner's walk

    @Test("a top-down walk with the fast path visits exactly the paths isIgnored keeps",
          arguments: 0..<4)
    func scannerWalk(batch: Int) {
        var visitedTotal = 0
        var skippedDirectories = 0
        for offset in 0..<50 {
            var generator = OracleCaseGenerator(seed: UInt64(7_000_000 + batch * 1_000 + offset))
            let tree = generator.makeCase(withCommandLine: true)
            let rules = tree.rules()
            var children: [String: [(path: String, isDirectory: Bool)]] = [:]
            for entry in tree.entries {
                let parent = entry.path.split(separator: "/").dropLast().joined(separator: "/")
                children[parent, default: []].append(entry)
            }
            // The scanner: ask before descending, never enter an ignored directory.
            var visited: Set<String> = []
            var pending = [""]
            while let directory = pending.popLast() {
                for child in children[directory] ?? [] {
                    if rules.isIgnoredIgnoringParents(child.path, isDirectory: child.isDirectory) {
                        if child.isDirectory { skippedDirectories += 1 }
                        continue
                    }
                    visited.insert(child.path)
                    if child.isDirectory { pending.append(child.path) }
                }
            }
            let kept = Set(tree.entries.map(\.path).filter { path in
                let isDirectory = tree.entries.first { $0.path == path }?.isDirectory ?? false
                return !rules.isIgnored(path, isDirectory: isDirectory)
            })
            #expect(visited == kept, "seed \(7_000_000 + batch * 1_000 + offset)\n\(tree)")
            visitedTotal += visited.count
        }
        #expect(visitedTotal > 200)
        #expect(skippedDirectories > 20)
    }

    // MARK: Maintenance and paths

    @Test("addGitignore replaces, removeGitignore forgets, empty files add nothing")
    func replaceAndRemove() {
        var rules = IgnoreRules(useDefaults: false)
        rules.addGitignore("*.a\n", directory: "lib")
        #expect(rules.isIgnored("lib/x.a", isDirectory: false))
        rules.addGitignore("*.b\n", directory: "lib/")
        #expect(!rules.isIgnored("lib/x.a", isDirectory: false))
        #expect(rules.isIgnored("lib/x.b", isDirectory: false))
        rules.removeGitignore(directory: "lib")
        #expect(!rules.isIgnored("lib/x.b", isDirectory: false))
        rules.addGitignore("# nothing\n\n", directory: "lib")
        #expect(rules.gitignoreDirectories.isEmpty)
    }

    @Test("the root is never ignored; a trailing slash and a leading ./ are tolerated")
    func pathForms() {
        var rules = IgnoreRules(useDefaults: false, excludes: ["*"])
        #expect(!rules.isIgnored("", isDirectory: true))
        rules = IgnoreRules(useDefaults: false, excludes: ["build/"])
        #expect(rules.isIgnored("build/", isDirectory: true))
        #expect(rules.isIgnored("./build", isDirectory: true))
        #expect(rules.isIgnored("./src/build/", isDirectory: true))
    }

    @Test("many .gitignore files in sibling and nested directories stay separate")
    func manyGitignores() {
        var rules = IgnoreRules(useDefaults: false)
        for index in 0..<200 { rules.addGitignore("f\(index)\n", directory: "d\(index)") }
        rules.addGitignore("deep\n", directory: "d7/x/y")
        #expect(rules.isIgnored("d7/f7", isDirectory: false))
        #expect(!rules.isIgnored("d7/f8", isDirectory: false))
        #expect(rules.isIgnored("d7/x/y/z/deep", isDirectory: false))
        #expect(!rules.isIgnored("d7/x/deep", isDirectory: false))
        #expect(!rules.isIgnored("d70/f7", isDirectory: false))
        // Removing one file in the middle keeps every other one reachable.
        rules.removeGitignore(directory: "d100")
        #expect(!rules.isIgnored("d100/f100", isDirectory: false))
        #expect(rules.isIgnored("d199/f199", isDirectory: false))
        #expect(rules.isIgnored("d7/x/y/z/deep", isDirectory: false))
        #expect(rules.gitignoreDirectories.count == 200)
        rules.addGitignore("f7b\n", directory: "d7")
        #expect(rules.isIgnored("d7/f7b", isDirectory: false))
        #expect(!rules.isIgnored("d7/f7", isDirectory: false))
    }

    @Test("case-insensitive rules fold names but keep git's escape quirk")
    func caseInsensitiveRules() {
        var rules = IgnoreRules(useDefaults: false, caseInsensitive: true)
        rules.addGitignore("Build/\n*.LOG\n\\Q\n", directory: "")
        #expect(rules.isIgnored("build", isDirectory: true))
        #expect(rules.isIgnored("x/debug.log", isDirectory: false))
        #expect(!rules.isIgnored("Q", isDirectory: false))
        #expect(!rules.isIgnored("q", isDirectory: false))
        #expect(rules.caseInsensitive)
    }
}
