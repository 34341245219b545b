import Foundation

// MARK: - SSHKeyTool

/// Throwaway SSH keys made with OpenSSH's `ssh-keygen`.
public enum SSHKeyTool {
    /// Key types the harness knows how to make.
    public static let supportedTypes = ["ed25519", "ecdsa", "rsa"]

    /// Generates a key pair: the private key at `path`, the public key at `path.pub`.
    /// Existing files at those paths are replaced.
    /// - Parameters:
    ///   - type: "ed25519", "ecdsa" (P-256) or "rsa" (3072 bits).
    ///   - passphrase: nil or "" for an unencrypted key.
    public static func generate(type: String, path: String, passphrase: String? = nil,
                                comment: String = "muxsync-lab") throws {
        guard supportedTypes.contains(type) else {
            throw LabError.invalidArgument("key type \"\(type)\" (use one of \(supportedTypes.joined(separator: ", ")))")
        }
        var arguments = ["-q", "-t", type, "-N", passphrase ?? "", "-C", comment, "-f", path]
        switch type {
        case "ecdsa": arguments += ["-b", "256"]
        case "rsa": arguments += ["-b", "3072"]
        default: break
        }
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.removeItem(atPath: path + ".pub")
        try ProcessRunner.run("ssh-keygen", arguments, timeout: 60).check()
    }

    /// "TYPE BASE64" of a public key file (the comment dropped).
    public static func publicKeyLine(publicKeyPath: String) throws -> String {
        let text: String
        do {
            text = try String(contentsOfFile: publicKeyPath, encoding: .utf8)
        } catch {
            throw LabError.file(path: publicKeyPath, reason: "cannot read the public key: \(error.localizedDescription)")
        }
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        guard fields.count >= 2 else {
            throw LabError.file(path: publicKeyPath, reason: "not an OpenSSH public key (expected \"TYPE BASE64 [comment]\")")
        }
        return "\(fields[0]) \(fields[1])"
    }

    /// The SHA256 fingerprint of a key file, as `ssh-keygen -lf` prints it ("SHA256:...").
    public static func fingerprint(keyPath: String) throws -> String {
        let result = try ProcessRunner.run("ssh-keygen", ["-l", "-E", "sha256", "-f", keyPath], timeout: 30).check()
        let fields = result.stdout.split(separator: " ")
        guard fields.count >= 2 else {
            throw LabError.file(path: keyPath, reason: "ssh-keygen -l printed no fingerprint: \(result.stdout)")
        }
        return String(fields[1])
    }
}
