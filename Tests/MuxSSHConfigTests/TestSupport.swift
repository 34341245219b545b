import Foundation
@testable import MuxSSHConfig

// MARK: - Fixed local context

/// A deterministic local side for resolution tests.
let testLocal = SSHLocalContext(
    user: "me", homeDirectory: "/home/me", hostName: "box.example.org", userID: 1000,
    environment: ["HOME": "/home/me", "PROJ": "proj"])

/// Parses `text` as `/home/me/.ssh/config` and resolves `host`.
func resolve(_ text: String, _ host: String, user: String? = nil, port: Int? = nil) throws -> ResolvedHost {
    let config = try SSHConfig.parse(text, path: "/home/me/.ssh/config", homeDirectory: "/home/me")
    return try config.resolve(host: host, user: user, port: port, local: testLocal)
}

/// The error thrown by parsing `text`, if any.
func parseError(_ text: String) -> SSHConfigError? {
    do {
        _ = try SSHConfig.parse(text, path: "/home/me/.ssh/config", homeDirectory: "/home/me")
        return nil
    } catch let error as SSHConfigError {
        return error
    } catch {
        return nil
    }
}

// MARK: - Temporary directories

/// A fresh temporary directory, removed by `cleanup()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.path
        path = base + "/muxsync-sshconfig-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes `text` to `relative` (creating directories).
    func write(_ relative: String, _ text: String) throws {
        let full = path + "/" + relative
        let dir = (full as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: true, encoding: .utf8)
    }

    func cleanup() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
