// OracleCaseGenerator: seeded random trees and ignore files for the git oracle tests.
//
// A case is a small tree of files and directories, .gitignore files at the root and in
// some directories, optionally a global ignore file, the defaults, a .muxsyncignore and
// --exclude values. Patterns are mostly derived from paths that exist in the tree (so they
// match often) and run through a grammar that covers every gitignore syntax rule: escapes,
// negation, anchoring, directory-only, `*` `?` `[...]` (ranges, `[!..]`, `[^..]`, POSIX
// classes), `**/`, `/**`, `/**/`, trailing spaces, comments, blank lines, CRLF, a BOM, and a
// list of deliberately odd patterns (unterminated classes, trailing backslashes, `***`).

import MuxTestSupport
import MuxIgnore

// MARK: - A generated case

/// One generated oracle case.
struct OracleCase: CustomStringConvertible {
    /// Every path in the tree (files and directories, .gitignore files included).
    var entries: [(path: String, isDirectory: Bool)] = []
    /// .gitignore contents by directory ("" = root).
    var gitignores: [String: String] = [:]
    var globalIgnore: String?
    var useDefaults = false
    var caseInsensitive = false
    var muxsyncignore: String?
    var excludes: [String] = []

    /// The rules under test, built from the case.
    func rules() -> IgnoreRules {
        var rules = IgnoreRules(useDefaults: useDefaults, globalIgnore: globalIgnore,
                                muxsyncignore: muxsyncignore, excludes: excludes,
                                caseInsensitive: caseInsensitive)
        for (directory, text) in gitignores { rules.addGitignore(text, directory: directory) }
        return rules
    }

    /// A reproducible dump for failure messages.
    var description: String {
        var lines = ["defaults=\(useDefaults) ignorecase=\(caseInsensitive)"]
        if let globalIgnore { lines.append("global: \(globalIgnore.debugDescription)") }
        for directory in gitignores.keys.sorted() {
            lines.append("\(directory)/.gitignore: \((gitignores[directory] ?? "").debugDescription)")
        }
        if let muxsyncignore { lines.append(".muxsyncignore: \(muxsyncignore.debugDescription)") }
        if !excludes.isEmpty { lines.append("excludes: \(excludes)") }
        return lines.joined(separator: "\n")
    }
}

// MARK: - Generator

struct OracleCaseGenerator {
    private var rng: SeededGenerator
    private var current = OracleCase()

    /// Names for files and directories: plain, case variants, glob-special characters,
    /// leading `#`/`!`, spaces, non-ASCII, and names the defaults match.
    static let names: [String] = [
        "a", "b", "ab", "abc", "foo", "bar", "Foo", "FOO", "build", "Build", "lib", "doc",
        "x.o", "y.o", "main.c", "foo.txt", "bar.txt", "README", ".hidden", "#note#", "!bang",
        "sp ace", "trail ", "br[a]", "q?", "st*r", "x~", ".#lock", "café", "a-b", "z9",
        "__pycache__", "foo.swp", "a.pyc", "4913", ".DS_Store", "k___jb_tmp___", "[", "]",
    ]

    /// Patterns that exercise parser and matcher corner cases.
    static let oddPatterns: [String] = [
        "*", "**", "***", "a**b", "**a", "a/**b", "**/", "/**", "a/**/", "**/*.txt", "*/",
        "*/*", "?", "??", "[!a]*", "[^ab]*", "[[:alpha:]]*", "[[:digit:]]*", "[[:upper:]]*",
        "[[:bogus:]]", "[]]", "[!]]*", "[a-]*", "[-a]*", "[z-a]", "[ab", "foo\\", "\\",
        "!", "/", "//", "\\#*", "\\!*", "#comment", "", "   ", "!*.o", "*.[oc]", "[a-c]*",
        "\\[", "\\*", "st\\*r", "br\\[a]", "br[[]a]", "trail\\ ", "trail\\ \\ ", "sp ace",
        "sp\\ ace", "*\\", "a/", "/a/", "a/*", "a/*/", "**/b/**", "*/b", "[[:space:]]*",
        "[[:punct:]]*", "[a-zA-Z]*", "caf?", "*é", "[^[:alnum:]]*", "[[:alpha:]-]*",
        "b/**/", "a/**/b", "**/**/b", "a**/b", "!!bang", "\\!bang", "!\\!bang", "\t",
    ]

    init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    // MARK: Random helpers

    private mutating func chance(_ probability: Double) -> Bool {
        Double.random(in: 0..<1, using: &rng) < probability
    }

    private mutating func int(_ range: ClosedRange<Int>) -> Int {
        Int.random(in: range, using: &rng)
    }

    private mutating func pick<T>(_ items: [T]) -> T {
        items[int(0...(items.count - 1))]
    }

    // MARK: Case

    /// Generates one case. `withCommandLine` adds a .muxsyncignore and --exclude values.
    mutating func makeCase(withCommandLine: Bool) -> OracleCase {
        current = OracleCase()
        current.caseInsensitive = chance(0.2)
        current.useDefaults = chance(0.4)
        makeDirectory("", depth: 0)
        let directories = [""] + current.entries.filter(\.isDirectory).map(\.path)
        for directory in directories where chance(directory.isEmpty ? 0.9 : 0.3) {
            current.gitignores[directory] = makeIgnoreFile(directory: directory)
            let path = directory.isEmpty ? ".gitignore" : directory + "/.gitignore"
            current.entries.append((path, false))
        }
        if chance(0.3) { current.globalIgnore = makeIgnoreFile(directory: "") }
        if withCommandLine {
            if chance(0.7) { current.muxsyncignore = makeIgnoreFile(directory: "") }
            current.excludes = (0..<int(0...3)).map { _ in makePattern(directory: "") }
                .filter { !$0.isEmpty }
        }
        return current
    }

    private mutating func makeDirectory(_ directory: String, depth: Int) {
        var used: Set<String> = []
        let count = depth == 0 ? int(3...6) : int(1...4)
        for _ in 0..<count {
            var name = pick(Self.names)
            if chance(0.15) { name = name.uppercased() }
            // Siblings differing only in case would collide on a case-insensitive volume
            // (the oracle's temporary directory on macOS), so keep them apart everywhere.
            let key = name.lowercased()
            if used.contains(key) { continue }
            used.insert(key)
            let path = directory.isEmpty ? name : directory + "/" + name
            let isDirectory = depth < 4 && chance(0.45)
            current.entries.append((path, isDirectory))
            if isDirectory { makeDirectory(path, depth: depth + 1) }
        }
    }

    // MARK: Ignore files

    /// An ignore file with 1...8 rule lines plus comments, blank lines, trailing spaces
    /// (plain and escaped), CRLF endings and a BOM.
    private mutating func makeIgnoreFile(directory: String) -> String {
        var lines: [String] = []
        for _ in 0..<int(1...8) {
            if chance(0.08) { lines.append(pick(["# a comment", "", "  ", "#"])) }
            var line = makePattern(directory: directory)
            if chance(0.08) { line += "  " }
            if chance(0.04) { line += "\\ " }
            lines.append(line)
        }
        let ending = chance(0.2) ? "\r\n" : "\n"
        var text = lines.joined(separator: ending)
        if chance(0.7) { text += ending }
        if chance(0.05) { text = "\u{FEFF}" + text }
        return text
    }

    /// One pattern line, usually derived from a path below `directory`.
    private mutating func makePattern(directory: String) -> String {
        if chance(0.15) { return pick(Self.oddPatterns) }
        let below = current.entries.map(\.path).compactMap { path -> [String]? in
            if directory.isEmpty { return path.split(separator: "/", omittingEmptySubsequences: false).map(String.init) }
            guard path.hasPrefix(directory + "/") else { return nil }
            return path.dropFirst(directory.count + 1)
                .split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        }
        let components = below.isEmpty ? [pick(Self.names)] : pick(below)
        var body: String
        switch int(0...11) {
        case 0...3:
            body = globify(components[components.count - 1])
        case 4...5:
            body = components.map { globify($0) }.joined(separator: "/")
            if components.count > 1 && chance(0.3) {
                var parts = components.map { globify($0) }
                parts[int(0...(parts.count - 2))] = pick(["*", "**"])
                body = parts.joined(separator: "/")
            }
            if chance(0.5) { body = "/" + body }
        case 6:
            body = "**/" + globify(components[components.count - 1])
        case 7:
            body = components.dropLast().map { globify($0) }.joined(separator: "/")
            body = body.isEmpty ? "**" : body + "/**"
        case 8:
            body = components.count > 1
                ? globify(components[0]) + "/**/" + globify(components[components.count - 1])
                : "**/" + globify(components[0])
        case 9:
            body = "*/" + globify(components[components.count - 1])
        case 10:
            // Globify the whole relative path, so wildcards and classes may land on a `/`.
            body = globify(components.joined(separator: "/"))
            if chance(0.5) { body = "/" + body }
        default:
            // Replace one slash by a wildcard that must not (or, for `**`, may) cross it.
            var parts = components.map { globify($0) }
            if parts.count > 1 {
                let joint = int(1...(parts.count - 1))
                let glue = pick(["?", "*", "[/]", "[!a]", "**", "*/*", "[[:punct:]]"])
                parts[joint - 1] += glue + parts[joint]
                parts.remove(at: joint)
            }
            body = (chance(0.7) ? "/" : "") + parts.joined(separator: "/")
        }
        if chance(0.25) { body += "/" }
        if chance(0.25) { body = "!" + body }
        if current.caseInsensitive && chance(0.3) { body = chance(0.5) ? body.uppercased() : body.lowercased() }
        return body
    }

    /// A glob for `name`: literal (escaped or, sometimes, deliberately not), or with `?`,
    /// `*`, a class, a range or a negated class in place of some characters.
    private mutating func globify(_ name: String) -> String {
        let characters = Array(name)
        guard !characters.isEmpty else { return name }
        let escaped = characters.map { character -> String in
            "*?[\\".contains(character) ? "\\" + String(character) : String(character)
        }
        var parts = escaped
        if chance(0.15) { return parts.joined() }  // unescaped leading # or ! stay special
        if parts.first == "#" || parts.first == "!" { parts[0] = "\\" + parts[0] }
        let index = int(0...(characters.count - 1))
        let character = characters[index]
        switch int(0...9) {
        case 0: parts[index] = chance(0.8) ? "?" : "[/]"
        case 1: return "*" + parts[index...].dropFirst().joined()
        case 2: return parts[..<index].joined() + "*"
        case 3: parts[index] = "[" + escapedClassMember(character) + "x]"
        case 4 where character.isASCII && (character.isLetter || character.isNumber):
            // Ranges, some with the character itself as an end point.
            let low = character.isNumber ? "0" : character.isUppercase ? "A" : "a"
            let high = character.isNumber ? "9" : character.isUppercase ? "Z" : "z"
            let one = String(character)
            parts[index] = "[" + pick(["\(low)-\(high)", "\(one)-\(high)", "\(low)-\(one)",
                                       "\(one)-\(one)", "A-Za-z0-9"]) + "]"
        case 5: parts[index] = pick(["[!", "[^"]) + (character == "q" ? "z" : "q") + "]"
        case 6: parts[index] = pick(["[[:alpha:]]", "[[:alnum:]]", "[[:lower:]]", "[[:punct:]]"])
        case 7: parts.insert("*", at: index)
        case 8 where character.isLetter: parts[index] = "\\" + String(character)
        default: break
        }
        return parts.joined()
    }

    private func escapedClassMember(_ character: Character) -> String {
        "]\\[!^-".contains(character) ? "\\" + String(character) : String(character)
    }
}
