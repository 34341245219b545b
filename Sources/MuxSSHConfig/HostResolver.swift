import Foundation

// MARK: - Resolver

/// Walks parsed configuration for one destination the way OpenSSH's `readconf.c` does:
/// `Host`/`Match` lines switch the "active" flag, the first value obtained for a keyword wins
/// (`IdentityFile` accumulates), and an `Include`d file starts active only if the line that
/// included it was active, and cannot change the includer's state.
///
/// When a `Match final` exists, a second ("final") pass follows as in OpenSSH: `Host` patterns
/// are then matched against the resolved host name, `Match final`/`canonical` are true, and
/// values set in the first pass still win.
struct HostResolver {
    /// OpenSSH's `SSH_MAX_IDENTITY_FILES`.
    static let maxIdentityFiles = 100

    let alias: String
    let local: SSHLocalContext

    private var active = true
    private var finalPass = false
    /// What `Host` lines are matched against: the alias, then the host name in the final pass.
    private var hostLineSubject: String
    /// The host name fixed at the start of the final pass (not re-expanded).
    private var finalHostName: String?
    private var hostName: (value: String, location: SSHConfigLocation)?
    private var user: String?
    private var port: Int?
    private var identityFiles: [(value: String, location: SSHConfigLocation)] = []
    private var identitiesOnly: Bool?
    private var knownHostsFiles: (values: [String], location: SSHConfigLocation)?
    private var strictHostKeyChecking: StrictHostKeyChecking?
    private var hostKeyAlias: String?
    private var connectTimeout: Int?
    private var serverAliveInterval: Int?
    private var serverAliveCountMax: Int?
    private var compression: Bool?
    private var proxyJump: String?
    private var proxyCommand: String?

    /// Starts a resolution; command-line user and port are set first so they win.
    init(alias: String, user: String?, port: Int?, local: SSHLocalContext) {
        self.alias = alias
        self.hostLineSubject = alias
        self.local = local
        self.user = user
        self.port = port
    }

    // MARK: Walking entries

    /// Switches to OpenSSH's final pass; apply every file again afterwards.
    mutating func beginFinalPass() throws {
        finalHostName = try effectiveHostName()
        hostLineSubject = finalHostName ?? alias
        finalPass = true
    }

    /// Applies one top-level file (which starts active).
    mutating func applyFile(_ entries: [ConfigEntry]) throws {
        active = true
        try apply(entries, neverMatch: false)
    }

    private mutating func apply(_ entries: [ConfigEntry], neverMatch: Bool) throws {
        for entry in entries {
            switch entry {
            case .host(let patterns, _):
                active = !neverMatch && hostMatches(patterns)
            case .match(let rule, let location):
                let matched = try matches(rule, at: location)
                active = !neverMatch && matched
            case .option(let option, let location):
                if active { try set(option, at: location) }
            case .include(let files, _):
                let outer = active
                for file in files {
                    active = outer
                    try apply(file.entries, neverMatch: neverMatch || !outer)
                }
                active = outer
            }
        }
    }

    /// `Host` line: any positive pattern matches the alias (case-sensitive, like OpenSSH) and
    /// no negated pattern matches it.
    private func hostMatches(_ patterns: [String]) -> Bool {
        var matched = false
        for pattern in patterns {
            let negated = pattern.hasPrefix("!")
            let body = negated ? String(pattern.dropFirst()) : pattern
            if WildcardMatcher.matches(hostLineSubject, pattern: body) {
                if negated { return false }
                matched = true
            }
        }
        return matched
    }

    private func matches(_ rule: MatchRule, at location: SSHConfigLocation) throws -> Bool {
        guard case .conditions(let conditions) = rule else { return false }
        for condition in conditions {
            let hit: Bool
            switch condition.criterion {
            case .all:
                hit = true
            case .host(let list):
                hit = WildcardMatcher.matchList(try currentHostName(), list: list, lowercase: true) == .matched
            case .originalHost(let list):
                hit = WildcardMatcher.matchList(alias, list: list, lowercase: true) == .matched
            case .user(let list):
                hit = WildcardMatcher.matchList(user ?? local.user, list: list, lowercase: false) == .matched
            case .localUser(let list):
                hit = WildcardMatcher.matchList(local.user, list: list, lowercase: false) == .matched
            case .final, .canonical:
                hit = finalPass
            }
            if hit == condition.negated { return false }
        }
        return true
    }

    /// First value wins; IdentityFile accumulates (deduplicated as written);
    /// ProxyJump and ProxyCommand exclude each other (the first one set wins).
    private mutating func set(_ option: ConfigOption, at location: SSHConfigLocation) throws {
        switch option {
        case .hostName(let v): if hostName == nil { hostName = (v, location) }
        case .user(let v): if user == nil { user = v }
        case .port(let v): if port == nil { port = v }
        case .identityFile(let v):
            guard !identityFiles.contains(where: { $0.value == v }) else { return }
            guard identityFiles.count < Self.maxIdentityFiles else {
                throw SSHConfigError("too many IdentityFile entries (at most \(Self.maxIdentityFiles))", at: location)
            }
            identityFiles.append((v, location))
        case .identitiesOnly(let v): if identitiesOnly == nil { identitiesOnly = v }
        case .userKnownHostsFiles(let v): if knownHostsFiles == nil { knownHostsFiles = (v, location) }
        case .strictHostKeyChecking(let v): if strictHostKeyChecking == nil { strictHostKeyChecking = v }
        case .hostKeyAlias(let v): if hostKeyAlias == nil { hostKeyAlias = v }
        case .connectTimeout(let v): if connectTimeout == nil { connectTimeout = v }
        case .serverAliveInterval(let v): if serverAliveInterval == nil { serverAliveInterval = v }
        case .serverAliveCountMax(let v): if serverAliveCountMax == nil { serverAliveCountMax = v }
        case .compression(let v): if compression == nil { compression = v }
        case .proxyJump(let v): if proxyJump == nil && proxyCommand == nil { proxyJump = v }
        case .proxyCommand(let v):
            // As observed with OpenSSH 9: `ProxyJump none` does not block a later ProxyCommand.
            let jumpBlocks = proxyJump.map { ConfigLineTokenizer.asciiLowercased($0) != "none" } ?? false
            if proxyCommand == nil && !jumpBlocks { proxyCommand = v }
        }
    }

    // MARK: Host name

    /// The host name as `Match host` sees it: `HostName` with `%h` expanded, else the alias.
    private func currentHostName() throws -> String {
        if let finalHostName { return finalHostName }
        guard let hostName else { return alias }
        return try expandHostName(hostName.value, at: hostName.location)
    }

    private func expandHostName(_ value: String, at location: SSHConfigLocation) throws -> String {
        let alias = self.alias
        do {
            return try TokenExpander.expand(value, allowed: "%h %%", environment: nil) { key throws(TokenExpander.Failure) in
                key == "h" ? alias : nil
            }
        } catch {
            throw SSHConfigError("HostName '\(value)': \(error.message)", at: location)
        }
    }

    // MARK: Result

    /// Fills defaults and expands paths, producing what `ssh -G` reports.
    /// The host to connect to: `HostName` expanded (or the alias), lowercased unless it is an
    /// address (an IPv6 address contains ':'), as OpenSSH does.
    private func effectiveHostName() throws -> String {
        if let finalHostName { return finalHostName }
        var host = alias
        if let hostName { host = try expandHostName(hostName.value, at: hostName.location) }
        if !host.contains(":" as Character) { host = ConfigLineTokenizer.asciiLowercased(host) }
        return host
    }

    func finish() throws -> ResolvedHost {
        let host = try effectiveHostName()
        let remoteUser = user ?? local.user
        let remotePort = port ?? 22

        let tokens = TokenValues(host: host, port: remotePort, remoteUser: remoteUser, alias: alias,
                                 hostKeyAlias: hostKeyAlias, proxyJump: proxyJump, local: local)
        let explicit = !identityFiles.isEmpty
        let rawIdentities = explicit
            ? identityFiles.map { ($0.value, Optional($0.location)) }
            : ResolvedHost.defaultIdentityFiles.map { ($0, SSHConfigLocation?.none) }
        var identities: [String] = []
        for (raw, location) in rawIdentities where ConfigLineTokenizer.asciiLowercased(raw) != "none" {
            identities.append(try tokens.expandPath(raw, keyword: "IdentityFile", at: location))
        }

        var knownHosts: [String] = []
        let rawKnownHosts = knownHostsFiles?.values ?? ResolvedHost.defaultUserKnownHostsFiles
        if !(rawKnownHosts.count == 1 && ConfigLineTokenizer.asciiLowercased(rawKnownHosts[0]) == "none") {
            for raw in rawKnownHosts {
                knownHosts.append(try tokens.expandPath(raw, keyword: "UserKnownHostsFile", at: knownHostsFiles?.location))
            }
        }

        func unlessNone(_ s: String?) -> String? {
            guard let s, ConfigLineTokenizer.asciiLowercased(s) != "none" else { return nil }
            return s
        }
        let timeout = connectTimeout.flatMap { $0 > 0 ? $0 : nil }
        return ResolvedHost(
            alias: alias, hostName: host, user: remoteUser, port: remotePort,
            identityFiles: identities, identityFilesExplicit: explicit,
            identitiesOnly: identitiesOnly ?? false, userKnownHostsFiles: knownHosts,
            strictHostKeyChecking: strictHostKeyChecking ?? .ask, hostKeyAlias: hostKeyAlias,
            connectTimeout: timeout, serverAliveInterval: serverAliveInterval ?? 0,
            serverAliveCountMax: serverAliveCountMax ?? 3, compression: compression ?? false,
            proxyJump: unlessNone(proxyJump), proxyCommand: unlessNone(proxyCommand))
    }
}

// MARK: - Token values

/// The values of OpenSSH's client tokens for path-like keywords.
private struct TokenValues {
    let host: String
    let port: Int
    let remoteUser: String
    let alias: String
    let hostKeyAlias: String?
    let proxyJump: String?
    let local: SSHLocalContext

    static let allowed = "%% %d %h %i %j %k %L %l %n %p %r %u"

    func value(_ key: Character) throws(TokenExpander.Failure) -> String? {
        switch key {
        case "h": return host
        case "p": return String(port)
        case "r": return remoteUser
        case "u": return local.user
        case "d": return local.homeDirectory
        case "n": return alias
        case "k": return hostKeyAlias ?? alias
        case "j": return proxyJump ?? ""
        case "i": return String(local.resolvedUserID())
        case "l": return local.resolvedHostName()
        case "L":
            let full = local.resolvedHostName()
            return String(full.prefix { $0 != "." })
        case "C": throw .unsupportedToken("C", reason: "it needs a SHA-1 connection hash; use %h, %p and %r instead")
        default: return nil
        }
    }

    /// `~` then `%`/`${}` expansion, with errors naming keyword, value and location.
    func expandPath(_ raw: String, keyword: String, at location: SSHConfigLocation?) throws -> String {
        do {
            let tilded = try TokenExpander.expandTilde(raw, homeDirectory: local.homeDirectory, localUser: local.user)
            let environment = local.environment
            return try TokenExpander.expand(
                tilded, allowed: Self.allowed,
                environment: { environment ?? ProcessInfo.processInfo.environment },
                lookup: value)
        } catch {
            throw SSHConfigError("\(keyword) '\(raw)': \(error.message)", at: location)
        }
    }
}
