import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - ProcessResult

/// What a finished command printed and how it ended.
public struct ProcessResult: Sendable {
    /// The command line, for messages.
    public let commandLine: String
    /// How the command ended.
    public let termination: ChildProcess.Termination
    /// Everything written to stdout.
    public let standardOutput: Data
    /// Everything written to stderr.
    public let standardError: Data

    /// stdout as UTF-8 text.
    public var stdout: String { String(decoding: standardOutput, as: UTF8.self) }
    /// stderr as UTF-8 text.
    public var stderr: String { String(decoding: standardError, as: UTF8.self) }
    /// True when the command exited with status 0.
    public var succeeded: Bool { termination.succeeded }

    /// Returns self when the command succeeded, else throws `LabError.commandFailed` with stderr.
    @discardableResult
    public func check() throws -> ProcessResult {
        guard succeeded else {
            throw LabError.commandFailed(command: commandLine, status: termination.description, stderr: stderr)
        }
        return self
    }
}

// MARK: - ProcessRunner

/// Runs a command to completion and captures its output, with a time limit.
///
/// The command runs in its own process group; on timeout the whole group is killed. Output is
/// read until the command exits, plus a short grace period: a daemon it leaves behind (an ssh
/// ControlMaster, say) may keep the pipes open forever, so reading stops shortly after the exit.
public enum ProcessRunner {
    /// Runs `executable` with `arguments`.
    /// - Parameters:
    ///   - environment: the complete environment (nil: ours); see `environment(adding:)`.
    ///   - input: bytes written to the command's stdin (nil: stdin is /dev/null).
    ///   - timeout: seconds before the command's process group is killed and `LabError.timedOut` thrown.
    public static func run(
        _ executable: String,
        _ arguments: [String] = [],
        environment: [String: String]? = nil,
        input: Data? = nil,
        timeout: TimeInterval = 60
    ) throws -> ProcessResult {
        let outPipe = try LabSocket.makePipe()
        let errPipe: (read: Int32, write: Int32)
        do { errPipe = try LabSocket.makePipe() } catch {
            closeAll([outPipe.read, outPipe.write])
            throw error
        }
        var inPair: (ours: Int32, theirs: Int32)?
        if input != nil {
            do { inPair = try socketPair() } catch {
                closeAll([outPipe.read, outPipe.write, errPipe.read, errPipe.write])
                throw error
            }
        }
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(
                executable, arguments, environment: environment,
                stdin: inPair.map { .descriptor($0.theirs) } ?? .null,
                stdout: .descriptor(outPipe.write), stderr: .descriptor(errPipe.write),
                newProcessGroup: true)
        } catch {
            closeAll([outPipe.read, outPipe.write, errPipe.read, errPipe.write, inPair?.ours ?? -1, inPair?.theirs ?? -1])
            throw error
        }
        closeAll([outPipe.write, errPipe.write, inPair?.theirs ?? -1])
        let capture = Capture(stdout: outPipe.read, stderr: errPipe.read, stdin: inPair?.ours ?? -1, input: input ?? Data())
        let finished = capture.pump(child: child, until: deadline(after: timeout))
        capture.closeRemaining()
        guard finished, let termination = child.termination else {
            kill(-child.pid, SIGKILL)
            child.terminate(grace: 1)
            throw LabError.timedOut(command: child.commandLine, seconds: timeout)
        }
        return ProcessResult(commandLine: child.commandLine, termination: termination,
                             standardOutput: capture.output, standardError: capture.errors)
    }

    /// Our environment with `extra` added (or replaced).
    public static func environment(adding extra: [String: String]) -> [String: String] {
        ProcessInfo.processInfo.environment.merging(extra) { _, new in new }
    }

    // MARK: Helpers

    private static func socketPair() throws -> (ours: Int32, theirs: Int32) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, LabSocket.streamType, 0, &fds) == 0 else {
            throw LabError.socket(operation: "socketpair()", errno: errno)
        }
        #if canImport(Darwin)
        for fd in fds {
            LabSocket.setCloseOnExec(fd)
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        #endif
        return (fds[0], fds[1])
    }

    fileprivate static func closeAll(_ fds: [Int32]) {
        for fd in fds where fd >= 0 { close(fd) }
    }
}

// MARK: - Capture

/// The poll loop that feeds stdin and drains stdout/stderr of one command.
private final class Capture {
    var output = Data()
    var errors = Data()
    private var fds: [Int32]          // stdout, stderr, stdin (-1 when closed)
    private let input: Data
    private var written = 0

    init(stdout: Int32, stderr: Int32, stdin: Int32, input: Data) {
        fds = [stdout, stderr, stdin]
        self.input = input
        if stdin >= 0 { LabSocket.setNonBlocking(stdin, true) }
        if stdin >= 0 && input.isEmpty { shutdownInput() }
    }

    /// Pumps until the child ended and its output is drained (true) or the deadline passed (false).
    func pump(child: ChildProcess, until end: UInt64) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var exitSeen: UInt64?
        while true {
            let now = monotonicNanoseconds()
            if now >= end { return false }
            if exitSeen == nil, child.termination != nil { exitSeen = now }
            if let exitSeen {
                let drained = fds[0] < 0 && fds[1] < 0
                if drained || now - exitSeen > 300_000_000 { return true }
            }
            var entries: [pollfd] = []
            if fds[0] >= 0 { entries.append(pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)) }
            if fds[1] >= 0 { entries.append(pollfd(fd: fds[1], events: Int16(POLLIN), revents: 0)) }
            if fds[2] >= 0 { entries.append(pollfd(fd: fds[2], events: Int16(POLLOUT), revents: 0)) }
            let ready = poll(&entries, nfds_t(entries.count), 20)
            if ready <= 0 { continue }
            for entry in entries where entry.revents != 0 {
                if entry.fd == fds[2] {
                    feedInput()
                } else {
                    let count = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                    if count > 0 {
                        if entry.fd == fds[0] { output.append(buffer, count: count) } else { errors.append(buffer, count: count) }
                    } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                        let index = entry.fd == fds[0] ? 0 : 1
                        close(fds[index])
                        fds[index] = -1
                    }
                }
            }
        }
    }

    private func feedInput() {
        let fd = fds[2]
        let sent = input.withUnsafeBytes { raw -> Int in
            guard let base = raw.baseAddress else { return 0 }
            return send(fd, base + written, raw.count - written, LabSocket.sendFlags)
        }
        if sent > 0 { written += sent }
        if written >= input.count || (sent < 0 && errno != EAGAIN && errno != EINTR) { shutdownInput() }
    }

    private func shutdownInput() {
        close(fds[2])
        fds[2] = -1
    }

    func closeRemaining() {
        ProcessRunner.closeAll(fds)
        fds = [-1, -1, -1]
    }
}
