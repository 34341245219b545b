// MARK: - Parsed configuration model

/// A typed value for one of the keywords muxsync uses. Values are validated when the file is
/// parsed (OpenSSH validates values even inside blocks that do not apply).
enum ConfigOption: Sendable, Equatable {
    case hostName(String)
    case user(String)
    case port(Int)
    case identityFile(String)
    case identitiesOnly(Bool)
    case userKnownHostsFiles([String])
    case strictHostKeyChecking(StrictHostKeyChecking)
    case connectTimeout(Int)
    case serverAliveInterval(Int)
    case serverAliveCountMax(Int)
    case compression(Bool)
    case proxyJump(String)
    case proxyCommand(String)
    case hostKeyAlias(String)
}

/// One criterion of a `Match` line that muxsync evaluates.
enum MatchCriterion: Sendable, Equatable {
    /// `all`: always true.
    case all
    /// `host LIST`: the target host name (after `HostName`), case-insensitive.
    case host(String)
    /// `originalhost LIST`: the alias as typed, case-insensitive.
    case originalHost(String)
    /// `user LIST`: the remote user known so far.
    case user(String)
    /// `localuser LIST`: the local user.
    case localUser(String)
    /// `final`: false on the first pass, true on the final pass (which it requests).
    case final
    /// `canonical`: true only on the final pass (muxsync does no DNS canonicalisation).
    case canonical
}

/// A criterion with its `!` negation flag.
struct MatchCondition: Sendable, Equatable {
    var criterion: MatchCriterion
    var negated: Bool
}

/// A parsed `Match` line.
enum MatchRule: Sendable, Equatable {
    /// All conditions must hold for the block to apply.
    case conditions([MatchCondition])
    /// The line uses a criterion muxsync does not evaluate (`exec`, `localnetwork`,
    /// `tagged`, ...): the block never applies.
    case unsupported([String])
}

/// A file pulled in by `Include`, already parsed.
struct IncludedFile: Sendable {
    var path: String
    var entries: [ConfigEntry]
}

/// One meaningful line of a configuration file, in file order.
enum ConfigEntry: Sendable {
    /// `Host PATTERN...`
    case host(patterns: [String], location: SSHConfigLocation)
    /// `Match ...`
    case match(MatchRule, location: SSHConfigLocation)
    /// A keyword muxsync uses, with its validated value.
    case option(ConfigOption, location: SSHConfigLocation)
    /// `Include ...`: the files it expanded to, in glob order.
    case include([IncludedFile], location: SSHConfigLocation)
}

// MARK: - Keywords

/// Keyword tables: the spelling used in messages for the keywords muxsync reads, and the rest
/// of OpenSSH's client keywords, which are accepted silently (only truly unknown keywords
/// produce a warning).
enum ConfigKeywords {
    /// Lowercased keyword to canonical spelling, for the keywords muxsync interprets.
    static let used: [String: String] = [
        "host": "Host", "match": "Match", "include": "Include",
        "hostname": "HostName", "user": "User", "port": "Port",
        "identityfile": "IdentityFile", "identitiesonly": "IdentitiesOnly",
        "userknownhostsfile": "UserKnownHostsFile",
        "stricthostkeychecking": "StrictHostKeyChecking",
        "connecttimeout": "ConnectTimeout",
        "serveraliveinterval": "ServerAliveInterval",
        "serveralivecountmax": "ServerAliveCountMax",
        "compression": "Compression",
        "proxyjump": "ProxyJump", "proxycommand": "ProxyCommand",
        "hostkeyalias": "HostKeyAlias",
    ]

    /// Other OpenSSH client keywords (current, Debian GSSAPI additions and deprecated ones).
    /// muxsync ignores them without a warning.
    static let knownIgnored: Set<String> = [
        "addkeystoagent", "addressfamily", "batchmode", "bindaddress", "bindinterface",
        "canonicaldomains", "canonicalizefallbacklocal", "canonicalizehostname",
        "canonicalizemaxdots", "canonicalizepermittedcnames", "casignaturealgorithms",
        "certificatefile", "challengeresponseauthentication", "channeltimeout", "checkhostip",
        "ciphers", "clearallforwardings", "connectionattempts", "controlmaster", "controlpath",
        "controlpersist", "dynamicforward", "enableescapecommandline", "enablesshkeysign",
        "escapechar", "exitonforwardfailure", "fingerprinthash", "forkafterauthentication",
        "forwardagent", "forwardx11", "forwardx11timeout", "forwardx11trusted", "gatewayports",
        "globalknownhostsfile", "gssapiauthentication", "gssapidelegatecredentials",
        "gssapikeyexchange", "gssapiclientidentity", "gssapiserveridentity",
        "gssapirenewalforcesrekey", "gssapitrustdns", "gssapikexalgorithms",
        "hashknownhosts", "hostbasedacceptedalgorithms", "hostbasedauthentication",
        "hostbasedkeytypes", "hostkeyalgorithms", "identityagent", "ignoreunknown", "ipqos",
        "kbdinteractiveauthentication", "kbdinteractivedevices", "kexalgorithms",
        "knownhostscommand", "localcommand", "localforward", "loglevel", "logverbose", "macs",
        "nohostauthenticationforlocalhost", "numberofpasswordprompts", "obscurekeystroketiming",
        "passwordauthentication", "permitlocalcommand", "permitremoteopen", "pkcs11provider",
        "preferredauthentications", "proxyusefdpass", "pubkeyacceptedalgorithms",
        "pubkeyacceptedkeytypes", "pubkeyauthentication", "refuseconnection", "rekeylimit",
        "remotecommand", "remoteforward", "requesttty", "requiredrsasize", "revokedhostkeys",
        "securitykeyprovider", "sendenv", "sessiontype", "setenv", "stdinnull",
        "streamlocalbindmask", "streamlocalbindunlink", "syslogfacility", "tag", "tcpkeepalive",
        "tunnel", "tunneldevice", "updatehostkeys", "usekeychain", "verifyhostkeydns",
        "versionaddendum", "visualhostkey", "warnweakcrypto", "xauthlocation",
        // Deprecated or removed; OpenSSH ignores these too.
        "afstokenpassing", "cipher", "compressionlevel", "dsaauthentication",
        "fallbacktorsh", "globalknownhostsfile2", "identityfile2", "kerberosauthentication",
        "kerberostgtpassing", "protocol", "rhostsauthentication", "rhostsrsaauthentication",
        "rsaauthentication", "skeyauthentication", "smartcarddevice", "tisauthentication",
        "useblacklistedkeys", "useprivilegedport", "useroaming", "usersh",
        "userknownhostsfile2",
    ]
}
