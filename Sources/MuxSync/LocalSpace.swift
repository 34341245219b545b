#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Saying that the local disk is full during a pull

/// A pull ran out of local disk space (ENOSPC) or quota (EDQUOT).
enum LocalSpace {
    /// True for the errno values of a full disk or an exhausted quota.
    static func isFull(_ code: Int32) -> Bool { code == ENOSPC || code == EDQUOT }

    /// One file of a pull could not be written for lack of space. Its message says where,
    /// what was kept and how to go on; the failure line names the file. (No "bytes free"
    /// figure: dropping the unfinished tail of the partial frees space, so it would mislead.)
    struct Full: Error, Sendable, CustomStringConvertible {
        /// The local directory the file goes to.
        var directory: String
        /// The partial download's name in that directory.
        var partialName: String
        /// Bytes of the partial that the next pull keeps (0: it starts afresh).
        var kept: UInt64
        /// The remote file's size.
        var size: UInt64

        var description: String {
            var text = "local: no space left on the disk of \(directory) for this \(HumanFormat.bytes(size)) file"
            if kept > 0 {
                text += "; the first \(HumanFormat.bytes(kept)) are kept in \(partialName) and the next pull resumes there once space is freed"
            } else {
                text += "; free some space and pull again"
            }
            return text
        }
    }
}
