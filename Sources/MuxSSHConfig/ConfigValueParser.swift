// MARK: - Value parsing for the keywords muxsync uses

/// Turns a tokenized line whose keyword muxsync uses into a typed ``ConfigOption``, with the
/// same acceptance rules as OpenSSH 9 (`a2port`, `convtime`, `strtonum`, the multistate
/// tables) and error messages that say what is expected.
enum ConfigValueParser {
    /// The largest value OpenSSH accepts for times and counts (INT_MAX).
    static let intMax = Int(Int32.max)

    /// Parses the value of `line` (keyword already known to be one of ``ConfigKeywords/used``
    /// other than Host/Match/Include). `name` is the canonical keyword spelling.
    static func option(for line: ConfigLine, name: String, at location: SSHConfigLocation) throws -> ConfigOption {
        func fail(_ message: String) -> SSHConfigError { SSHConfigError(message, at: location) }

        // ProxyCommand takes the rest of the line verbatim.
        if line.keyword == "proxycommand" {
            guard !line.rawArgument.isEmpty, !line.arguments.isEmpty else { throw fail("\(name) needs a command (or 'none')") }
            return .proxyCommand(line.rawArgument)
        }
        // UserKnownHostsFile takes one or more files.
        if line.keyword == "userknownhostsfile" {
            guard !line.arguments.isEmpty else { throw fail("\(name) needs at least one file (or 'none')") }
            if let empty = line.arguments.firstIndex(of: "") {
                throw fail("\(name) argument \(empty + 1) is empty (expected a file path)")
            }
            if line.arguments.count > 1,
               line.arguments.contains(where: { ConfigLineTokenizer.asciiLowercased($0) == "none" }) {
                throw fail("\(name) 'none' must appear alone")
            }
            if line.arguments.count > 32 {
                throw fail("\(name) lists \(line.arguments.count) files (at most 32 are allowed)")
            }
            return .userKnownHostsFiles(line.arguments)
        }

        // Every other keyword takes exactly one value.
        guard let value = line.arguments.first, !value.isEmpty else {
            throw fail("\(name) needs a value")
        }
        guard line.arguments.count == 1 else {
            let extra = line.arguments.dropFirst().joined(separator: " ")
            throw fail("\(name) takes one value, but extra text follows '\(value)': '\(extra)' "
                + "(quote values that contain spaces)")
        }

        switch line.keyword {
        case "hostname": return .hostName(value)
        case "user": return .user(value)
        case "identityfile": return .identityFile(value)
        case "proxyjump": return .proxyJump(value)
        case "hostkeyalias": return .hostKeyAlias(value)
        case "port":
            guard let port = parsePort(value) else {
                throw fail("\(name) '\(value)' \(portProblem(value)) (expected 1-65535)")
            }
            return .port(port)
        case "connecttimeout", "serveraliveinterval":
            guard let seconds = parseTime(value) else {
                throw fail("\(name) '\(value)' is not a valid time (expected seconds such as 30, "
                    + "or a time such as 90s, 5m, 1h30m)")
            }
            return line.keyword == "connecttimeout" ? .connectTimeout(seconds) : .serverAliveInterval(seconds)
        case "serveralivecountmax":
            guard let count = parseNonNegativeInt(value) else {
                throw fail("\(name) '\(value)' is not a whole number (expected 0 or more)")
            }
            return .serverAliveCountMax(count)
        case "identitiesonly":
            guard let flag = parseFlag(value) else {
                throw fail("\(name) '\(value)' is not valid (expected yes or no)")
            }
            return .identitiesOnly(flag)
        case "compression":
            switch ConfigLineTokenizer.asciiLowercased(value) {
            case "yes": return .compression(true)
            case "no": return .compression(false)
            default: throw fail("\(name) '\(value)' is not valid (expected yes or no)")
            }
        case "stricthostkeychecking":
            guard let policy = StrictHostKeyChecking(configValue: value) else {
                throw fail("\(name) '\(value)' is not valid (expected yes, no, ask, accept-new or off)")
            }
            return .strictHostKeyChecking(policy)
        default:
            throw fail("\(name) is not handled (internal error: keyword table out of sync)")
        }
    }

    // MARK: Scalars

    /// A decimal port 1-65535 (OpenSSH also accepts service names; muxsync does not).
    /// Why `s` is no port: "is out of range" for digits outside 1-65535, else "is not a number".
    static func portProblem(_ s: String) -> String {
        !s.isEmpty && s.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") } ? "is out of range" : "is not a number"
    }

    static func parsePort(_ s: String) -> Int? {
        guard let n = parseDecimal(s), (1...65535).contains(n) else { return nil }
        return n
    }

    /// A decimal integer 0...INT_MAX.
    static func parseNonNegativeInt(_ s: String) -> Int? {
        parseDecimal(s)
    }

    /// `yes`/`true` or `no`/`false`, case-insensitive.
    static func parseFlag(_ s: String) -> Bool? {
        switch ConfigLineTokenizer.asciiLowercased(s) {
        case "yes", "true": return true
        case "no", "false": return false
        default: return nil
        }
    }

    /// OpenSSH `convtime`: one or more `<digits>[smhdwSMHDW]` groups, summed, in seconds;
    /// nil on malformed input or overflow past INT_MAX.
    static func parseTime(_ s: String) -> Int? {
        let bytes = Array(s.utf8)
        guard !bytes.isEmpty else { return nil }
        var total = 0
        var i = 0
        while i < bytes.count {
            let start = i
            var value = 0
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                value = value * 10 + Int(bytes[i] - 0x30)
                if value > intMax { return nil }
                i += 1
            }
            guard i > start else { return nil }
            var multiplier = 1
            if i < bytes.count {
                switch bytes[i] {
                case UInt8(ascii: "s"), UInt8(ascii: "S"): multiplier = 1
                case UInt8(ascii: "m"), UInt8(ascii: "M"): multiplier = 60
                case UInt8(ascii: "h"), UInt8(ascii: "H"): multiplier = 3600
                case UInt8(ascii: "d"), UInt8(ascii: "D"): multiplier = 86400
                case UInt8(ascii: "w"), UInt8(ascii: "W"): multiplier = 604800
                default: return nil
                }
                i += 1
            }
            guard value <= intMax / multiplier else { return nil }
            total += value * multiplier
            if total > intMax { return nil }
        }
        return total
    }

    /// Plain decimal digits, 0...INT_MAX, no sign or spaces.
    private static func parseDecimal(_ s: String) -> Int? {
        let bytes = Array(s.utf8)
        guard !bytes.isEmpty else { return nil }
        var value = 0
        for b in bytes {
            guard b >= 0x30, b <= 0x39 else { return nil }
            value = value * 10 + Int(b - 0x30)
            if value > intMax { return nil }
        }
        return value
    }
}
