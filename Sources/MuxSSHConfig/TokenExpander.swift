import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Local context

/// Facts about the local side that token expansion needs (`%u`, `%d`, `%l`, `%L`, `%i`,
/// `${VAR}`). Tests pass fixed values; ``current()`` reads the running process.
public struct SSHLocalContext: Sendable, Equatable {
    /// The local user name (`%u`, and the default remote user).
    public var user: String
    /// The local home directory (`~`, `%d`, relative `Include`s).
    public var homeDirectory: String
    /// The local host name (`%l`; `%L` is its first label). nil: ask the system when needed.
    public var hostName: String?
    /// The local numeric user id (`%i`). nil: ask the system when needed.
    public var userID: Int?
    /// Environment for `${VAR}`. nil: the process environment.
    public var environment: [String: String]?

    /// Creates a context; unspecified values are looked up lazily from the system.
    public init(user: String, homeDirectory: String, hostName: String? = nil, userID: Int? = nil,
                environment: [String: String]? = nil) {
        self.user = user
        self.homeDirectory = homeDirectory
        self.hostName = hostName
        self.userID = userID
        self.environment = environment
    }

    /// The running process's user and home directory.
    /// The running process's user and home directory, from one password-database lookup of the
    /// effective uid (as Foundation's NSUserName/NSHomeDirectory: $HOME is not consulted).
    public static func current() -> SSHLocalContext {
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 << 10)
        if getpwuid_r(geteuid(), &entry, &buffer, buffer.count, &found) == 0, found != nil,
           let name = entry.pw_name, let home = entry.pw_dir {
            return SSHLocalContext(user: String(cString: name), homeDirectory: String(cString: home))
        }
        return SSHLocalContext(user: ProcessInfo.processInfo.userName,
                               homeDirectory: FileManager.default.homeDirectoryForCurrentUser.path)
    }

    /// `gethostname()` like OpenSSH (not a DNS lookup).
    func resolvedHostName() -> String {
        if let hostName { return hostName }
        #if canImport(Glibc) || canImport(Musl) || canImport(Darwin)
        var buffer = [CChar](repeating: 0, count: 256)
        if gethostname(&buffer, buffer.count - 1) == 0 {
            let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            return String(decoding: bytes, as: UTF8.self)
        }
        #endif
        return ProcessInfo.processInfo.hostName
    }

    func resolvedUserID() -> Int {
        if let userID { return userID }
        #if canImport(Glibc) || canImport(Musl) || canImport(Darwin)
        return Int(getuid())
        #else
        return 0
        #endif
    }
}

// MARK: - Expansion

/// `~`, `%x` and `${VAR}` expansion as OpenSSH performs it on `IdentityFile`,
/// `UserKnownHostsFile` (`tilde_expand_filename`, then `percent_dollar_expand`) and
/// `HostName` (`%h` and `%%` only).
enum TokenExpander {
    /// Why a value could not be expanded; the caller adds keyword and location.
    enum Failure: Error, Equatable {
        case unknownToken(Character, allowed: String)
        case unsupportedToken(Character, reason: String)
        case trailingPercent
        case unterminatedVariable
        case undefinedVariable(String)
        case otherUsersHome(String)

        /// A sentence for the user.
        var message: String {
            switch self {
            case .unknownToken(let c, let allowed):
                return "unknown token %\(c) (allowed here: \(allowed))"
            case .unsupportedToken(let c, let reason):
                return "token %\(c) is not supported by muxsync (\(reason))"
            case .trailingPercent:
                return "a lone % at the end (write %% for a literal percent sign)"
            case .unterminatedVariable:
                return "'${' without a closing '}'"
            case .undefinedVariable(let name):
                return "environment variable \(name) is not set"
            case .otherUsersHome(let name):
                return "~\(name) (another user's home directory) is not supported; use an absolute path"
            }
        }
    }

    /// Expands a leading `~` or `~/` to `home` (`~user` only for the local user).
    static func expandTilde(_ s: String, homeDirectory: String, localUser: String) throws(Failure) -> String {
        guard s.hasPrefix("~") else { return s }
        let rest = s.dropFirst()
        let slash = rest.firstIndex(of: "/")
        let name = String(rest[..<(slash ?? rest.endIndex)])
        if !name.isEmpty && name != localUser { throw .otherUsersHome(name) }
        var home = homeDirectory
        while home.count > 1 && home.hasSuffix("/") { home.removeLast() }
        guard let slash else { return home }
        let tail = rest[slash...]
        return home == "/" ? String(tail) : home + tail
    }

    /// Expands `%x` tokens via `lookup` and, when `environment` is given, `${VAR}`.
    /// `lookup` returns nil for a token not allowed here, and may throw for a known but
    /// unsupported one.
    static func expand(_ s: String, allowed: String, environment: (() -> [String: String])?,
                       lookup: (Character) throws(Failure) -> String?) throws(Failure) -> String {
        var out = ""
        var iterator = Array(s).makeIterator()
        var pendingDollar = false
        while let c = iterator.next() {
            if pendingDollar {
                pendingDollar = false
                if c == "{", let environment {
                    var name = ""
                    var closed = false
                    while let n = iterator.next() {
                        if n == "}" { closed = true; break }
                        name.append(n)
                    }
                    guard closed else { throw .unterminatedVariable }
                    guard let value = environment()[name] else { throw .undefinedVariable(name) }
                    out += value
                    continue
                }
                out.append("$")
            }
            if c == "$" && environment != nil {
                pendingDollar = true
                continue
            }
            guard c == "%" else {
                out.append(c)
                continue
            }
            guard let key = iterator.next() else { throw .trailingPercent }
            if key == "%" {
                out.append("%")
                continue
            }
            guard let value = try lookup(key) else { throw .unknownToken(key, allowed: allowed) }
            out += value
        }
        if pendingDollar { out.append("$") }
        return out
    }
}
