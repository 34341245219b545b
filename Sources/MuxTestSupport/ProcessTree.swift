import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - ProcessTree

/// Finds and ends the descendants of a process. sshd forks a monitor per connection, which
/// forks the session process, which runs sftp-server or a shell in a new session: killing the
/// listening sshd alone would orphan all of these while a client stays connected.
public enum ProcessTree {
    /// The pids of every living descendant of `root` (children first, then theirs).
    public static func descendants(of root: pid_t) -> [pid_t] {
        let parents = parentTable()
        var result: [pid_t] = []
        var frontier: [pid_t] = [root]
        while let current = frontier.popLast() {
            let children = parents.compactMap { $0.value == current ? $0.key : nil }
            result.append(contentsOf: children)
            frontier.append(contentsOf: children)
        }
        return result
    }

    /// Living processes (other than us) whose environment holds `key=value`. Linux only (reads
    /// /proc/PID/environ, which needs the same user or root); elsewhere empty.
    public static func processes(withEnvironment key: String, value: String) -> [pid_t] {
        #if os(Linux)
        let wanted = Array("\(key)=\(value)".utf8)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), pid != getpid(),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { return nil }
            let found = data.split(separator: 0).contains { Array($0) == wanted }
            return found && isAlive(pid) ? pid : nil
        }
        #else
        return []
        #endif
    }

    /// True when a process with this pid exists (zombies included).
    public static func exists(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// Sends SIGTERM to `pids`, waits up to `grace` seconds, then SIGKILLs the survivors.
    /// Callers reap their own children; the others are reparented and reaped by init.
    public static func terminate(_ pids: [pid_t], grace: TimeInterval = 2) {
        guard !pids.isEmpty else { return }
        for pid in pids { kill(pid, SIGTERM) }
        let end = deadline(after: grace)
        while monotonicNanoseconds() < end {
            if pids.allSatisfy({ !isAlive($0) }) { return }
            sleepSeconds(0.01)
        }
        for pid in pids where isAlive(pid) { kill(pid, SIGKILL) }
    }

    // MARK: Reading the process table

    /// True when the process exists and is not a zombie.
    static func isAlive(_ pid: pid_t) -> Bool {
        guard exists(pid) else { return false }
        #if os(Linux)
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")") {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.first != "Z"
        }
        #endif
        return true
    }

    /// pid -> parent pid for every process we can see.
    static func parentTable() -> [pid_t: pid_t] {
        var table: [pid_t: pid_t] = [:]
        #if os(Linux)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = pid_t(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // Fields after "(comm)": state, ppid, ...
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = pid_t(fields[1]) { table[pid] = parent }
        }
        #else
        if let result = try? ProcessRunner.run("/bin/ps", ["-A", "-o", "pid=,ppid="], timeout: 10), result.succeeded {
            for line in result.stdout.split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.count == 2, let pid = pid_t(parts[0]), let parent = pid_t(parts[1]) { table[pid] = parent }
            }
        }
        #endif
        return table
    }
}
