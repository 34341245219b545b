#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - File-system queries without Foundation

/// stat(2) and read(2) for the few places that asked FileManager: its `isDirectory:` takes
/// Foundation's ObjCBool (Foundation proper, which the binary must not link, see
/// docs/benchmarks.md "exec start-up"), and `FileManager.default`'s first use costs every
/// `muxsync exec` about 0.1 ms.
public enum PlainFile {
    public enum Kind: Sendable, Equatable {
        case directory
        /// A regular file, device, FIFO or socket.
        case other
    }

    /// What `path` is (symlinks followed, as `FileManager.fileExists`); nil when it does not exist
    /// or cannot be examined.
    public static func kind(of path: String) -> Kind? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (st.st_mode & S_IFMT) == S_IFDIR ? .directory : .other
    }

    /// The whole content of `path`; nil when it cannot be opened or read (as
    /// `FileManager.contents(atPath:)`).
    public static func contents(of path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return nil }
            if n == 0 { return bytes }
            bytes += chunk[0..<n]
        }
    }
}
