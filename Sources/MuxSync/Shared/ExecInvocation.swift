// MARK: - The one `muxsync exec` command line the fast path understands

/// `exec [-F FILE] [--cwd DIR] [-q|--quiet] HOST[:PATH] -- COMMAND...`, recognised before
/// ArgumentParser runs so that `muxsync exec` over a shared session starts as fast as `ssh`
/// over a ControlMaster (ArgumentParser's reflection and the async main cost milliseconds).
///
/// Anything else (another option, a repeated one, `--opt=value`, a missing host or command, a
/// value that looks like an option) is not recognised: the caller then parses the command line
/// with ArgumentParser as usual, so behaviour and error messages stay exactly the same.
public struct ExecInvocation: Sendable, Equatable {
    public var configFile: String?
    public var cwd: String?
    public var quiet = false
    public var host: String
    public var command: [String]

    public init(configFile: String? = nil, cwd: String? = nil, quiet: Bool = false, host: String, command: [String]) {
        self.configFile = configFile
        self.cwd = cwd
        self.quiet = quiet
        self.host = host
        self.command = command
    }

    /// The invocation in `arguments` (argv without the program name), or nil when it is not
    /// exactly the shape above.
    public static func recognise(_ arguments: [String]) -> ExecInvocation? {
        guard arguments.first == "exec" else { return nil }
        var configFile: String?
        var cwd: String?
        var quiet = false
        var host: String?
        var index = 1
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "--":
                let command = Array(arguments[(index + 1)...])
                guard let host, !command.isEmpty else { return nil }
                return ExecInvocation(configFile: configFile, cwd: cwd, quiet: quiet, host: host, command: command)
            case "-F", "--cwd":
                guard index + 1 < arguments.count else { return nil }
                let value = arguments[index + 1]
                guard !value.hasPrefix("-") else { return nil }
                if argument == "-F" {
                    guard configFile == nil else { return nil }
                    configFile = value
                } else {
                    guard cwd == nil else { return nil }
                    cwd = value
                }
                index += 2
            case "-q", "--quiet":
                guard !quiet else { return nil }
                quiet = true
                index += 1
            default:
                guard host == nil, !argument.hasPrefix("-") else { return nil }
                host = argument
                index += 1
            }
        }
        return nil
    }
}
