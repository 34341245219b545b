import Foundation

// MARK: - Parser

/// Parses configuration text into ``ConfigEntry`` values, validating the values of the
/// keywords muxsync uses and reading `Include`d files (depth-bounded, loop-checked).
///
/// Parsing is host-independent: which blocks apply is decided later by ``HostResolver``.
struct ConfigParser {
    /// OpenSSH's `READCONF_MAX_DEPTH`.
    static let maxIncludeDepth = 16
    /// Safety bound on the number of files one top-level parse may read.
    static let maxFilesRead = 512

    let homeDirectory: String
    /// System configuration (`/etc/ssh/ssh_config`): relative includes are under `/etc/ssh`.
    let isSystem: Bool
    var warnings: [SSHConfigWarning] = []
    /// A `Match final` line was seen (in any file, applying or not): resolution then makes a
    /// second, final pass like OpenSSH.
    private(set) var wantsFinalPass = false
    /// Files read through `Include` so far (bounded by ``maxFilesRead``).
    var filesRead = 0
    /// Identities of the files being read, outermost first (for loop detection).
    var includeStack: [String] = []

    init(homeDirectory: String, isSystem: Bool) {
        self.homeDirectory = homeDirectory
        self.isSystem = isSystem
    }

    /// Parses a top-level file's text.
    mutating func parse(text: String, path: String) throws -> [ConfigEntry] {
        try parseFile(text: text, path: path, depth: 0)
    }

    // MARK: Files and lines

    mutating func parseFile(text: String, path: String, depth: Int) throws -> [ConfigEntry] {
        includeStack.append(Self.identity(of: path))
        defer { includeStack.removeLast() }
        var entries: [ConfigEntry] = []
        for (index, bytes) in ConfigLineTokenizer.lines(of: text).enumerated() {
            let location = SSHConfigLocation(file: path, line: index + 1, homeDirectory: homeDirectory)
            switch ConfigLineTokenizer.tokenize(bytes) {
            case .empty:
                continue
            case .problem(.invalidQuotes):
                throw SSHConfigError("unterminated quote (every \" or ' needs a closing one)", at: location)
            case .problem(.missingArgument(let spelled)):
                let keyword = ConfigLineTokenizer.asciiLowercased(spelled)
                if let name = ConfigKeywords.used[keyword] {
                    throw SSHConfigError("\(name) needs a value", at: location)
                }
                warn(unknownOrEmpty: spelled, lowercased: keyword, at: location)
            case .line(let line):
                if let entry = try entry(for: line, at: location, depth: depth) {
                    entries.append(entry)
                }
            }
        }
        return entries
    }

    private mutating func entry(for line: ConfigLine, at location: SSHConfigLocation, depth: Int) throws -> ConfigEntry? {
        switch line.keyword {
        case "host":
            if let empty = line.arguments.firstIndex(of: "") {
                throw SSHConfigError("Host pattern \(empty + 1) is empty (expected a host name or pattern)", at: location)
            }
            return .host(patterns: line.arguments, location: location)
        case "match":
            let rule = try Self.parseMatch(line.arguments, at: location)
            if case .conditions(let conditions) = rule, conditions.contains(where: { $0.criterion == .final }) {
                wantsFinalPass = true
            }
            if case .unsupported(let names) = rule {
                let list = names.map { "'\($0)'" }.joined(separator: ", ")
                warnings.append(SSHConfigWarning(
                    "Match criterion \(list) is not supported by muxsync; this Match block is skipped",
                    at: location))
            }
            return .match(rule, location: location)
        case "include":
            return try include(line.arguments, at: location, depth: depth)
        default:
            if let name = ConfigKeywords.used[line.keyword] {
                return .option(try ConfigValueParser.option(for: line, name: name, at: location), location: location)
            }
            if !ConfigKeywords.knownIgnored.contains(line.keyword) {
                warn(unknownOrEmpty: line.spelledKeyword, lowercased: line.keyword, at: location)
            }
            return nil
        }
    }

    private mutating func warn(unknownOrEmpty spelled: String, lowercased: String, at location: SSHConfigLocation) {
        if ConfigKeywords.knownIgnored.contains(lowercased) {
            warnings.append(SSHConfigWarning("\(spelled) has no value; ignored", at: location))
        } else {
            warnings.append(SSHConfigWarning("unknown keyword '\(spelled)' ignored", at: location))
        }
    }

    // MARK: Match

    /// Parses `Match` arguments with OpenSSH's rules (`all` alone, other criteria take a
    /// pattern list, `!` negates). Unsupported criteria make the rule ``MatchRule/unsupported``.
    static func parseMatch(_ arguments: [String], at location: SSHConfigLocation) throws -> MatchRule {
        var conditions: [MatchCondition] = []
        var unsupported: [String] = []
        var attributes = 0
        var i = 0
        while i < arguments.count {
            let spelled = arguments[i]
            i += 1
            let negated = spelled.hasPrefix("!")
            let name = ConfigLineTokenizer.asciiLowercased(negated ? String(spelled.dropFirst()) : spelled)
            if name == "all" {
                guard attributes <= 1, i == arguments.count else {
                    throw SSHConfigError("Match '\(spelled)' cannot be combined with other criteria", at: location)
                }
                conditions.append(MatchCondition(criterion: .all, negated: negated))
                attributes += 1
                break
            }
            attributes += 1
            if name == "canonical" || name == "final" {
                conditions.append(MatchCondition(criterion: name == "final" ? .final : .canonical, negated: negated))
                continue
            }
            guard i < arguments.count, !arguments[i].isEmpty else {
                throw SSHConfigError("Match \(spelled) needs a pattern list (e.g. Match \(spelled) name1,name2)", at: location)
            }
            let argument = arguments[i]
            i += 1
            let criterion: MatchCriterion
            switch name {
            case "host": criterion = .host(argument)
            case "originalhost": criterion = .originalHost(argument)
            case "user": criterion = .user(argument)
            case "localuser": criterion = .localUser(argument)
            default:
                unsupported.append(spelled)
                continue
            }
            conditions.append(MatchCondition(criterion: criterion, negated: negated))
        }
        guard attributes > 0 else {
            throw SSHConfigError("Match needs at least one criterion (e.g. Match host NAME, or Match all)", at: location)
        }
        return unsupported.isEmpty ? .conditions(conditions) : .unsupported(unsupported)
    }
}
