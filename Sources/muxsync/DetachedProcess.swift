#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

// MARK: - Starting a process that outlives this one

/// A child started in its own session (no controlling terminal: Ctrl-C in this
/// terminal does not reach it), with stdin and stdout on /dev/null, stderr
/// written to a log file (replaced), and none of this process's other descriptors: a
/// pipe the caller's caller reads until EOF must not stay open in it.
struct DetachedProcess {
    let pid: pid_t

    /// Starts `executable` with `arguments`; throws with errno's text if it cannot.
    static func spawn(_ executable: String, _ arguments: [String], log: String) throws -> DetachedProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // closefrom() is not visible from Swift; close what is open now (a descriptor closed
        // meanwhile makes close fail with EBADF, which posix_spawn ignores).
        for fd in openDescriptors() where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        #if os(Linux)
        let newSession: Int32 = 0x80  // POSIX_SPAWN_SETSID (a macro Swift does not import)
        #else
        let newSession = Int32(POSIX_SPAWN_SETSID)
        #endif
        // Default signal dispositions and mask: this process may ignore SIGPIPE or block signals.
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(newSession | Int32(POSIX_SPAWN_SETSIGDEF) | Int32(POSIX_SPAWN_SETSIGMASK)))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard rc == 0 else {
            throw SpawnError(executable: executable, reason: String(cString: strerror(rc)))
        }
        return DetachedProcess(pid: pid)
    }

    /// True once the child has exited (it is reaped then).
    func hasExited() -> Bool {
        var status: Int32 = 0
        let rc = waitpid(pid, &status, WNOHANG)
        return rc == pid || (rc < 0 && errno == ECHILD)
    }

    private static func openDescriptors() -> [Int32] {
        #if os(Linux)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return names.compactMap { Int32($0) }
        #else
        return Array(3..<Int32(min(getdtablesize(), 4096)))
        #endif
    }
}

extension DetachedProcess {
    /// Why the child could not be started.
    struct SpawnError: Error, CustomStringConvertible {
        let executable: String
        let reason: String

        var description: String { "cannot start \(executable): \(reason)" }
    }
}
