#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Writing to standard output and standard error

/// Standard output or standard error, written with write(2).
/// Replaces `FileHandle.standardOutput/standardError`, which would link Foundation proper
/// (and ICU) into the binary and slow every start (see docs/benchmarks.md, exec). Unlike
/// FileHandle.write, a failed write (a closed pipe) is dropped instead of trapping.
public enum StandardStream: Sendable {
    case output
    case error

    public var descriptor: Int32 { self == .output ? STDOUT_FILENO : STDERR_FILENO }

    /// Writes all of `bytes`, retrying on EINTR and short writes; gives up on any other error.
    public func write(_ bytes: some Collection<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { writeAll($0) }
        if done == nil { Array(bytes).withUnsafeBufferPointer { writeAll($0) } }
    }

    /// Writes `text` as UTF-8.
    public func write(_ text: String) {
        var text = text
        text.withUTF8 { writeAll($0) }
    }

    private func writeAll(_ buffer: UnsafeBufferPointer<UInt8>) {
        guard let base = buffer.baseAddress else { return }
        var offset = 0
        while offset < buffer.count {
            #if canImport(Glibc)
            let n = Glibc.write(descriptor, base + offset, buffer.count - offset)
            #else
            let n = Darwin.write(descriptor, base + offset, buffer.count - offset)
            #endif
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }
}
