// ProjectConfigSchema: the valid keys of .muxsync.toml, typed readers of TOMLKit values,
// and the line finder that points an error at the right line (TOMLKit gives parsed values
// no source position, so the text is scanned for the key).

import TOMLKit

// MARK: - Schema

/// The keys .muxsync.toml accepts, per table. Add a key here and read it in
/// `ProjectConfig.parse` (watch options go in `watch`).
public enum ProjectConfigSchema {
    /// Keys of the top-level table.
    public static let topLevel = ["remote", "exclude", "delete", "max_delete", "checksum",
                                  "poll_interval", "persist", "pull", "watch"]
    /// Keys of `[remote]` (when remote is a table rather than "host:/path").
    public static let remote = ["host", "path"]
    /// Keys of `[pull]`.
    public static let pull = ["include", "dest"]
    /// Keys of `[watch]`.
    public static let watch = ["debounce"]

    /// The valid keys of the table at `section` ([] for the top level).
    static func keys(of section: [String]) -> [String] {
        switch section {
        case []: return topLevel
        case ["remote"]: return remote
        case ["pull"]: return pull
        case ["watch"]: return watch
        default: return []
        }
    }

    /// The valid key closest to a misspelt one (edit distance at most 2), if any.
    static func suggestion(for key: String, among valid: [String]) -> String? {
        let typed = Array(key.lowercased().unicodeScalars)
        var best: (key: String, distance: Int)?
        for candidate in valid {
            let distance = editDistance(typed, Array(candidate.unicodeScalars))
            if distance <= 2, distance < (best?.distance ?? Int.max) { best = (candidate, distance) }
        }
        return best?.key
    }

    private static func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, y) in b.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

// MARK: - Typed readers

/// Reads typed values out of a TOMLKit table, throwing ``ProjectConfigError`` that names
/// the file, the line and the key.
struct ConfigReader {
    let file: String
    let text: String

    /// Throws for the first key (in file order) of `table` that is not in `valid`.
    func checkKeys(_ table: TOMLTable, section: [String]) throws {
        let valid = ProjectConfigSchema.keys(of: section)
        var unknown: [(line: Int?, key: String)] = []
        for key in table.keys where !valid.contains(key) {
            unknown.append((TOMLLineFinder.line(of: section + [key], in: text), key))
        }
        guard let first = unknown.min(by: { ($0.line ?? Int.max, $0.key) < ($1.line ?? Int.max, $1.key) }) else {
            return
        }
        throw ProjectConfigError.unknownKey(file: file, line: first.line,
                                            key: (section + [first.key]).joined(separator: "."),
                                            validKeys: valid)
    }

    func bad(_ path: [String], _ problem: String) -> ProjectConfigError {
        .badValue(file: file, line: TOMLLineFinder.line(of: path, in: text),
                  key: path.joined(separator: "."), problem: problem)
    }

    func string(_ table: TOMLTable, _ key: String, section: [String] = [], nonEmpty: Bool = true) throws -> String? {
        guard let value = table[key] else { return nil }
        guard value.type == .string, let s = value.string else {
            throw bad(section + [key], "must be a string, got \(Self.describe(value))")
        }
        if nonEmpty && s.isEmpty { throw bad(section + [key], "must not be empty") }
        return s
    }

    func bool(_ table: TOMLTable, _ key: String, section: [String] = []) throws -> Bool? {
        guard let value = table[key] else { return nil }
        guard value.type == .bool, let b = value.bool else {
            throw bad(section + [key], "must be true or false, got \(Self.describe(value))")
        }
        return b
    }

    func nonNegativeInt(_ table: TOMLTable, _ key: String, section: [String] = []) throws -> Int? {
        guard let value = table[key] else { return nil }
        guard value.type == .int, let n = value.int else {
            throw bad(section + [key], "must be a non-negative integer, got \(Self.describe(value))")
        }
        if n < 0 { throw bad(section + [key], "must be a non-negative integer, got \(n)") }
        return n
    }

    /// A number of seconds (integer or float); `allowZero` false requires > 0.
    func seconds(_ table: TOMLTable, _ key: String, section: [String] = [], allowZero: Bool) throws -> Double? {
        guard let value = table[key] else { return nil }
        let number: Double
        if value.type == .double, let d = value.double {
            number = d
        } else if value.type == .int, let n = value.int {
            number = Double(n)
        } else {
            throw bad(section + [key], "must be a number of seconds, got \(Self.describe(value))")
        }
        if !number.isFinite || number < 0 || (!allowZero && number == 0) {
            let bound = allowZero ? "zero or more" : "greater than zero"
            throw bad(section + [key], "must be a number of seconds \(bound), got \(value.debugDescription)")
        }
        return number
    }

    func stringArray(_ table: TOMLTable, _ key: String, section: [String] = []) throws -> [String]? {
        guard let value = table[key] else { return nil }
        guard value.type == .array, let array = value.array else {
            throw bad(section + [key], "must be an array of strings, got \(Self.describe(value))")
        }
        var result: [String] = []
        for (i, element) in array.enumerated() {
            guard element.type == .string, let s = element.string else {
                throw bad(section + [key], "must be an array of strings; element \(i + 1) is \(Self.describe(element))")
            }
            if s.isEmpty { throw bad(section + [key], "element \(i + 1) is an empty string") }
            result.append(s)
        }
        return result
    }

    func table(_ table: TOMLTable, _ key: String) throws -> TOMLTable? {
        guard let value = table[key] else { return nil }
        guard value.type == .table, let t = value.table else {
            throw bad([key], "must be a table ([\(key)]), got \(Self.describe(value))")
        }
        return t
    }

    /// "an integer (-1)", "a string (\"x\")".
    static func describe(_ value: TOMLValueConvertible) -> String {
        let article: String
        switch value.type {
        case .int, .array: article = "an"
        default: article = "a"
        }
        let shown = value.debugDescription
        let short = shown.count > 40 ? String(shown.prefix(37)) + "..." : shown
        return "\(article) \(value.type) (\(short))"
    }
}

// MARK: - Line finder

/// Finds the line on which a key is set, by scanning TOML text: follows `[table]` headers
/// and understands bare, quoted and dotted keys. Good enough for error messages; returns nil
/// when it cannot tell (a key inside an inline table reports the line of the table's key).
enum TOMLLineFinder {
    /// The 1-based line where `path` (e.g. ["pull", "include"]) or a table containing it is
    /// set, or nil.
    static func line(of path: [String], in text: String) -> Int? {
        var section: [String] = []
        var best: Int?
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(rawLine.drop { $0 == " " || $0 == "\t" })
            if line.hasPrefix("[[") { section = []; continue }
            if line.hasPrefix("[") {
                line = line.dropFirst()
                guard let (header, rest) = parseKeyPath(line), rest.hasPrefix("]") else { continue }
                section = header
                if header.starts(with: path) { return lineNumber }
                continue
            }
            guard let (keys, rest) = parseKeyPath(line), rest.hasPrefix("=") else { continue }
            let full = section + keys
            if full.starts(with: path) { return lineNumber }
            // A shorter match: the inline table or dotted key that holds `path`.
            if best == nil, path.starts(with: full) { best = lineNumber }
        }
        return best
    }

    /// Parses `key(.key)*` with surrounding blanks; returns the components and the rest.
    static func parseKeyPath(_ text: Substring) -> ([String], Substring)? {
        var rest = text
        var keys: [String] = []
        while true {
            rest = rest.drop { $0 == " " || $0 == "\t" }
            guard let first = rest.first else { return nil }
            if first == "\"" || first == "'" {
                rest = rest.dropFirst()
                guard let end = rest.firstIndex(of: first) else { return nil }
                keys.append(String(rest[..<end]))
                rest = rest[rest.index(after: end)...]
            } else {
                let key = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
                if key.isEmpty { return nil }
                keys.append(String(key))
                rest = rest.dropFirst(key.count)
            }
            rest = rest.drop { $0 == " " || $0 == "\t" }
            guard rest.first == "." else { return (keys, rest) }
            rest = rest.dropFirst()
        }
    }
}
