// MARK: - Errors of sync jobs

/// A sync job could not start or had to stop. Per-file failures are collected
/// in the job's report instead.
public enum SyncError: Error, Sendable, CustomStringConvertible {
    case remoteNotADirectory(String)
    case remoteMissing(String)
    case localNotADirectory(String)
    case failures(Int)
    case timedOut(String)

    public var description: String {
        switch self {
        case .remoteNotADirectory(let path):
            return "remote \(path) exists but is not a directory; name a directory (or remove that file first)"
        case .remoteMissing(let path):
            return "remote \(path) does not exist"
        case .localNotADirectory(let path):
            return "local \(path) is not a directory"
        case .timedOut(let what):
            return "timed out \(what)"
        case .failures(let count):
            return "\(count) item\(count == 1 ? "" : "s") failed (listed above)"
        }
    }
}
