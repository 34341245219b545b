import Foundation

// MARK: - LabError

/// Errors raised by the test-support harness (private sshd, ssh-agent, delaying proxy,
/// subprocess runner). Every message names what failed, why, and what to do about it.
public enum LabError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    /// A program needed by the harness is not installed.
    case executableNotFound(name: String, hint: String)
    /// `posix_spawn` refused to start a program.
    case spawnFailed(executable: String, errno: Int32)
    /// A command ran but exited unsuccessfully.
    case commandFailed(command: String, status: String, stderr: String)
    /// A command did not finish within its time limit and was killed.
    case timedOut(command: String, seconds: Double)
    /// The private sshd could not be started or did not start listening.
    case sshdDidNotStart(reason: String, logTail: String)
    /// The ssh-agent could not be started.
    case agentDidNotStart(reason: String)
    /// A socket call failed.
    case socket(operation: String, errno: Int32)
    /// A file could not be read or written.
    case file(path: String, reason: String)
    /// An argument was invalid.
    case invalidArgument(String)

    // MARK: Messages

    /// A human-readable message naming the cause and the fix.
    public var description: String {
        switch self {
        case let .executableNotFound(name, hint):
            return "\(name) was not found. \(hint)"
        case let .spawnFailed(executable, code):
            return "could not start \(executable): \(LabError.errnoText(code)). "
                + "Check that the file exists and is executable."
        case let .commandFailed(command, status, stderr):
            let detail = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            return "command failed (\(status)): \(command)"
                + (detail.isEmpty ? "" : "\nstderr: \(detail)")
        case let .timedOut(command, seconds):
            return "command did not finish within \(LabError.format(seconds)) s and was killed: \(command). "
                + "Raise the timeout or look for a prompt waiting on input."
        case let .sshdDidNotStart(reason, logTail):
            return "the private sshd did not start: \(reason). "
                + "Check that openssh-server is installed (/usr/sbin/sshd) and that /run/sshd can be created."
                + (logTail.isEmpty ? "" : "\n--- sshd log (tail) ---\n\(logTail)")
        case let .agentDidNotStart(reason):
            return "ssh-agent did not start: \(reason). Check that openssh-client is installed."
        case let .socket(operation, code):
            return "\(operation) failed: \(LabError.errnoText(code))"
        case let .file(path, reason):
            return "\(path): \(reason)"
        case let .invalidArgument(text):
            return "invalid argument: \(text)"
        }
    }

    /// Same as `description`, for `localizedDescription`.
    public var errorDescription: String? { description }

    // MARK: Helpers

    /// `strerror` text for an errno value, with the number.
    static func errnoText(_ code: Int32) -> String {
        "\(String(cString: strerror(code))) (errno \(code))"
    }

    private static func format(_ seconds: Double) -> String {
        String(format: "%.1f", seconds)
    }
}
