#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Version

/// The version `muxsync --version` prints.
public enum MuxsyncVersion {
    public static let string = "0.1.0"

    /// The version plus the running executable's size and modification time: two processes
    /// with the same build id speak the same control protocol. A background session started
    /// by an older build is replaced rather than asked to serve a newer client.
    public static let buildID: String = {
        var st = stat()
        #if os(Linux)
        let path = "/proc/self/exe"
        #else
        let path = CommandLine.arguments[0]
        #endif
        guard stat(path, &st) == 0 else { return string }
        #if os(Linux)
        let seconds = st.st_mtim.tv_sec, nanoseconds = st.st_mtim.tv_nsec
        #else
        let seconds = st.st_mtimespec.tv_sec, nanoseconds = st.st_mtimespec.tv_nsec
        #endif
        return "\(string)/\(st.st_size)/\(seconds).\(nanoseconds)"
    }()
}
