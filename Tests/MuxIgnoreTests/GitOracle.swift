// GitOracle: materializes an OracleCase in a throw-away git repository and asks git.
//
// Two oracles:
//   - `git check-ignore --no-index -v -n -z --stdin` reports, for every path, the deciding
//     rule (source, line, pattern) or none. Defaults go to a file named by
//     core.excludesFile and the global ignore to .git/info/exclude, git's two lowest
//     sources, in the same order as IgnoreRules'.
//   - `git ls-files -o -i --exclude-standard --exclude=...` lists every ignored file; its
//     --exclude patterns outrank all .gitignore files, which models .muxsyncignore (then
//     the --exclude values) exactly, because two adjacent top-precedence lists with the
//     same base behave like one concatenated list.
// git runs with a scratch HOME/XDG_CONFIG_HOME and no system or global config, so the
// machine's own git configuration cannot leak in.

import Foundation
import MuxIgnore

// MARK: - Errors

struct GitOracleError: Error, CustomStringConvertible {
    let description: String
}

// MARK: - Verdicts

/// git's answer for one path: the deciding rule as `source:line:pattern`, or nil.
struct GitVerdict: Equatable, CustomStringConvertible {
    let source: String
    let line: Int
    let pattern: String

    var isIgnored: Bool { !pattern.hasPrefix("!") }
    var description: String { "\(source):\(line):\(pattern)" }
}

// MARK: - Workspace

/// A temporary directory holding the case's repository and the defaults file.
struct OracleWorkspace {
    let scratch: URL
    let repository: URL
    let defaultsFile: URL
    let oracleCase: OracleCase

    static let gitIsAvailable: Bool = (try? OracleWorkspace.runGit(
        ["--version"], in: URL(fileURLWithPath: "/"), home: URL(fileURLWithPath: "/"))) != nil

    init(_ oracleCase: OracleCase) throws {
        self.oracleCase = oracleCase
        let fileManager = FileManager.default
        scratch = fileManager.temporaryDirectory
            .appendingPathComponent("muxignore-oracle-\(UUID().uuidString)")
        repository = scratch.appendingPathComponent("repo")
        defaultsFile = scratch.appendingPathComponent("defaults-ignore")
        try fileManager.createDirectory(at: repository, withIntermediateDirectories: true)
        _ = try Self.runGit(["init", "-q", "--template="], in: repository, home: scratch)
        let info = repository.appendingPathComponent(".git/info")
        try fileManager.createDirectory(at: info, withIntermediateDirectories: true)
        if let global = oracleCase.globalIgnore {
            try Data(global.utf8).write(to: info.appendingPathComponent("exclude"))
        }
        let defaults = IgnoreRules.defaultPatterns.joined(separator: "\n") + "\n"
        try Data(defaults.utf8).write(to: defaultsFile)
        for entry in oracleCase.entries.sorted(by: { $0.path < $1.path }) {
            let url = repository.appendingPathComponent(entry.path)
            if entry.isDirectory {
                try fileManager.createDirectory(at: url, withIntermediateDirectories: true)
            } else {
                try fileManager.createDirectory(at: url.deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
                try Data(content(of: entry.path).utf8).write(to: url)
            }
        }
    }

    private func content(of path: String) -> String {
        guard path == ".gitignore" || path.hasSuffix("/.gitignore") else { return "" }
        let directory = path == ".gitignore" ? "" : String(path.dropLast("/.gitignore".count))
        return oracleCase.gitignores[directory] ?? ""
    }

    func remove() {
        try? FileManager.default.removeItem(at: scratch)
    }

    private var configArguments: [String] {
        var arguments: [String] = []
        if oracleCase.useDefaults { arguments += ["-c", "core.excludesFile=\(defaultsFile.path)"] }
        arguments += ["-c", "core.ignorecase=\(oracleCase.caseInsensitive)"]
        return arguments
    }

    // MARK: Queries

    /// git check-ignore's verdict for every path of the case.
    func checkIgnore() throws -> [String: GitVerdict?] {
        let input = oracleCase.entries.map { $0.path + "\0" }.joined()
        let output = try Self.runGit(
            configArguments + ["check-ignore", "--no-index", "-v", "-n", "-z", "--stdin"],
            in: repository, home: scratch, input: Data(input.utf8))
        let fields = output.split(separator: 0, omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        guard fields.count >= 4 * oracleCase.entries.count else {
            throw GitOracleError(description: "check-ignore printed \(fields.count) fields")
        }
        var verdicts: [String: GitVerdict?] = [:]
        var index = 0
        while index + 3 < fields.count {
            let (source, line, pattern, path) =
                (fields[index], fields[index + 1], fields[index + 2], fields[index + 3])
            verdicts[path] = source.isEmpty ? nil
                : GitVerdict(source: mapSource(source), line: Int(line) ?? -1, pattern: pattern)
            index += 4
        }
        return verdicts
    }

    /// The files `git ls-files -o -i` reports ignored with the given --exclude values.
    func ignoredFiles(excludes: [String]) throws -> Set<String> {
        let output = try Self.runGit(
            configArguments + ["ls-files", "-o", "-i", "-z", "--exclude-standard"]
                + excludes.map { "--exclude=\($0)" },
            in: repository, home: scratch)
        return Set(output.split(separator: 0).map { String(decoding: $0, as: UTF8.self) })
    }

    /// Maps git's source names onto IgnoreSource's descriptions.
    private func mapSource(_ source: String) -> String {
        if source == defaultsFile.path { return IgnoreSource.defaults.description }
        if source == ".git/info/exclude" { return IgnoreSource.global.description }
        return source
    }

    // MARK: Running git

    /// Runs git and returns its standard output; throws with its stderr on failure.
    @discardableResult
    static func runGit(_ arguments: [String], in directory: URL, home: URL,
                       input: Data = Data()) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git"] + arguments
        process.currentDirectoryURL = directory
        process.environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "HOME": home.path,
            "XDG_CONFIG_HOME": home.appendingPathComponent("xdg").path,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "LC_ALL": "C",
        ]
        // Files rather than pipes for stdin/stderr: no deadlock whatever the sizes.
        let inputFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("muxignore-stdin-\(UUID().uuidString)")
        let errorFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("muxignore-stderr-\(UUID().uuidString)")
        try input.write(to: inputFile)
        try Data().write(to: errorFile)
        defer {
            try? FileManager.default.removeItem(at: inputFile)
            try? FileManager.default.removeItem(at: errorFile)
        }
        process.standardInput = try FileHandle(forReadingFrom: inputFile)
        process.standardError = try FileHandle(forWritingTo: errorFile)
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        // check-ignore exits 1 when nothing is ignored; that is not a failure.
        guard process.terminationStatus == 0 || process.terminationStatus == 1 else {
            let message = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
            throw GitOracleError(description:
                "git \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(message)")
        }
        return data
    }
}
