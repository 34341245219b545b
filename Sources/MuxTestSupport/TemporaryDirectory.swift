import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - TemporaryDirectory

/// Private (0700) temporary directories with short paths: Unix socket paths (ssh-agent,
/// ControlPath) must stay under ~100 bytes, so these live in TMPDIR only when it is short,
/// else in /tmp.
public enum TemporaryDirectory {
    /// Creates a new directory named `<prefix>XXXXXX` and returns its path.
    public static func make(prefix: String) throws -> String {
        let environment = ProcessInfo.processInfo.environment["TMPDIR"] ?? ""
        let base = (!environment.isEmpty && environment.count < 40) ? environment : "/tmp"
        let template = (base.hasSuffix("/") ? base : base + "/") + prefix + "XXXXXX"
        var bytes = Array(template.utf8CString)
        let made = bytes.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress else { return false }
            return mkdtemp(base) != nil
        }
        guard made else {
            throw LabError.file(path: template, reason: "mkdtemp failed: \(LabError.errnoText(errno)); check that \(base) is writable")
        }
        return String(decoding: bytes.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Creates `path` (and parents) if missing, mode 0700.
    public static func ensure(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw LabError.file(path: path, reason: "cannot create directory: \(error.localizedDescription)")
        }
    }

    /// Removes `path` and everything under it, ignoring errors.
    public static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}
