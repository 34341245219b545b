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
        guard stat(runningExecutable, &st) == 0 else { return string }
        #if os(Linux)
        let seconds = st.st_mtim.tv_sec, nanoseconds = st.st_mtim.tv_nsec
        #else
        let seconds = st.st_mtimespec.tv_sec, nanoseconds = st.st_mtimespec.tv_nsec
        #endif
        return "\(string)/\(st.st_size)/\(seconds).\(nanoseconds)"
    }()

    /// The running executable's file, even if it was replaced or removed since it started.
    static var runningExecutable: String {
        #if os(Linux)
        return "/proc/self/exe"
        #else
        return CommandLine.arguments[0]
        #endif
    }

    /// The running executable's path, to start another muxsync of the same build.
    public static var executablePath: String {
        #if os(Linux)
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(runningExecutable, &buffer, buffer.count - 1)
        if count > 0 { return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        #endif
        return CommandLine.arguments[0]
    }
}
