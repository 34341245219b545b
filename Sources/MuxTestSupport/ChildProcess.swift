import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - ChildProcess

/// A program started with `posix_spawn`, owned and reaped by this object.
///
/// Why not Foundation's `Process`: the child must inherit NO descriptor of ours (a proxy
/// connection or another child's pipe kept open by sshd would hang tests that run in parallel),
/// must start with default signal dispositions and an empty signal mask (sshd relies on
/// SIGCHLD), and may need its own process group. Here every child gets exactly stdin, stdout
/// and stderr (glibc `posix_spawn_file_actions_addclosefrom_np`, Darwin
/// `POSIX_SPAWN_CLOEXEC_DEFAULT`). A `ChildProcess` dropped while its program still runs kills
/// it (SIGKILL) and reaps it, so no zombie is left behind.
public final class ChildProcess: Sendable {
    // MARK: Types

    /// How a child ended.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        /// Exited with this status.
        case exited(Int32)
        /// Killed by this signal.
        case signaled(Int32)

        /// True for `exited(0)`.
        public var succeeded: Bool { self == .exited(0) }

        /// "exit status N" or "signal N".
        public var description: String {
            switch self {
            case let .exited(code): return "exit status \(code)"
            case let .signaled(signal): return "signal \(signal)"
            }
        }
    }

    /// Where one of the child's standard descriptors goes.
    public enum Stdio: Sendable {
        /// /dev/null.
        case null
        /// The parent's own descriptor.
        case inherit
        /// A file, created if missing, appended to or truncated.
        case file(path: String, append: Bool)
        /// An open descriptor of the parent (duplicated onto the child's).
        case descriptor(Int32)
    }

    // MARK: Properties

    /// Process id.
    public let pid: pid_t
    /// Absolute path of the program.
    public let executable: String
    /// Arguments (without argv[0]).
    public let arguments: [String]
    private let reaped = LabLock<Termination?>(nil)

    private init(pid: pid_t, executable: String, arguments: [String]) {
        self.pid = pid
        self.executable = executable
        self.arguments = arguments
    }

    deinit {
        if termination == nil {
            kill(pid, SIGKILL)
            _ = wait(timeout: 5)
        }
    }

    /// The command line, for messages.
    public var commandLine: String {
        ([executable] + arguments).joined(separator: " ")
    }

    // MARK: Spawning

    /// Starts `executable` (a path, or a name looked up in PATH and the sbin directories).
    /// - Parameters:
    ///   - environment: the complete environment; nil inherits ours.
    ///   - newProcessGroup: put the child in a process group of its own (so a terminal's
    ///     Ctrl-C reaches only us, and we decide how the child stops).
    public static func spawn(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        stdin: Stdio = .null,
        stdout: Stdio = .null,
        stderr: Stdio = .null,
        newProcessGroup: Bool = false
    ) throws -> ChildProcess {
        let path = try resolveExecutable(executable)
        let argv = ([path] + arguments).map { strdup($0) }
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") }
        defer {
            argv.forEach { free($0) }
            env.forEach { free($0) }
        }
        #if canImport(Glibc)
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        #else
        var actions: posix_spawn_file_actions_t?
        var attributes: posix_spawnattr_t?
        #endif
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        for (target, stdio) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            switch stdio {
            case .inherit:
                break
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case let .file(filePath, append):
                let flags = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)
                posix_spawn_file_actions_addopen(&actions, target, filePath, flags, 0o644)
            case let .descriptor(fd):
                posix_spawn_file_actions_adddup2(&actions, fd, target)
            }
        }
        var flags = Int32(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)
        if newProcessGroup {
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        #if canImport(Glibc)
        if let closeFrom = Self.addCloseFrom {
            _ = closeFrom(&actions, 3)
        }
        #else
        flags |= Int32(POSIX_SPAWN_CLOEXEC_DEFAULT)
        #endif
        posix_spawnattr_setflags(&attributes, Int16(flags))
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in 1..<32 where signal != SIGKILL && signal != SIGSTOP {
            sigaddset(&defaults, Int32(signal))
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv + [nil], env + [nil])
        guard result == 0 else { throw LabError.spawnFailed(executable: path, errno: result) }
        return ChildProcess(pid: pid, executable: path, arguments: arguments)
    }

    #if canImport(Glibc)
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    /// glibc >= 2.34 `posix_spawn_file_actions_addclosefrom_np`, which its headers only
    /// declare under _GNU_SOURCE; nil on an older glibc.
    private static let addCloseFrom: AddCloseFrom? = {
        guard let handle = dlopen(nil, RTLD_NOW),
              let symbol = dlsym(handle, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()
    #endif

    // MARK: Finding programs

    /// The absolute path of `name`: itself if it contains a slash, else the first match in
    /// PATH, /usr/sbin, /usr/bin, /sbin, /bin.
    public static func resolveExecutable(_ name: String) throws -> String {
        if name.contains("/") {
            guard access(name, X_OK) == 0 else { throw notFound(name) }
            return name
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        for directory in directories where !directory.isEmpty {
            let candidate = directory + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw notFound(name)
    }

    private static func notFound(_ name: String) -> LabError {
        let base = (name as NSString).lastPathComponent
        let hint: String
        switch base {
        case "sshd": hint = "Install it: apt-get install openssh-server."
        case "sftp-server": hint = "Install it: apt-get install openssh-sftp-server."
        case "ssh", "sftp", "scp", "ssh-keygen", "ssh-agent", "ssh-add", "ssh-keyscan":
            hint = "Install it: apt-get install openssh-client."
        default: hint = "Install it or put its directory in PATH."
        }
        return .executableNotFound(name: name, hint: hint)
    }

    // MARK: Waiting and signalling

    /// How the child ended, or nil while it runs (reaps it if it has ended).
    public var termination: Termination? {
        reaped.withLock { state in
            if state == nil { state = Self.reapNow(pid) }
            return state
        }
    }

    /// True until the child has ended.
    public var isRunning: Bool { termination == nil }

    /// Sends `signal` unless the child has already been reaped.
    public func signal(_ number: Int32) {
        reaped.withLock { state in
            if state == nil { kill(pid, number) }
        }
    }

    /// Waits up to `timeout` seconds (nil: forever) for the child to end.
    @discardableResult
    public func wait(timeout: TimeInterval?) -> Termination? {
        let end = timeout.map { deadline(after: $0) }
        var pause: TimeInterval = 0.002
        while true {
            if let done = termination { return done }
            if let end, monotonicNanoseconds() >= end { return nil }
            sleepSeconds(pause)
            pause = min(pause * 2, 0.02)
        }
    }

    /// SIGTERM, then SIGKILL after `grace` seconds; always reaps.
    @discardableResult
    public func terminate(grace: TimeInterval = 3) -> Termination {
        signal(SIGTERM)
        if let done = wait(timeout: grace) { return done }
        signal(SIGKILL)
        return wait(timeout: nil) ?? .signaled(SIGKILL)
    }

    private static func reapNow(_ pid: pid_t) -> Termination? {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { return decode(status) }
            if result == 0 { return nil }
            if errno == EINTR { continue }
            // ECHILD: someone else reaped it; it is gone either way.
            return .exited(-1)
        }
    }

    private static func decode(_ status: Int32) -> Termination {
        let low = status & 0x7f
        return low == 0 ? .exited((status >> 8) & 0xff) : .signaled(low)
    }
}
