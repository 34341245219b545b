import CLibSSH2
import Foundation
import Logging

// MARK: - Public-key authentication: ssh-agent first, then identity files

/// Authenticates the session's user. Runs on the session thread during
/// set-up (blocking mode). Never logs key material or passphrases.
struct Authenticator {
    var user: String
    var identityFiles: [String]
    var identitiesOnly: Bool
    var agentSocket: String?
    var passphrase: PassphraseProvider?

    private struct Attempt {
        var key: String
        var outcome: String
    }

    func authenticate(session: OpaquePointer, endpoint: String, logger: Logger) throws(TransportError) {
        // Keys are offered straight away: asking for the method list first (a "none"
        // request) would cost a round trip that only matters when every key fails.
        var attempts: [Attempt] = []
        var sawRSA = false
        if let agentSocket, !agentSocket.isEmpty {
            if tryAgent(session: session, socket: agentSocket, logger: logger, attempts: &attempts, sawRSA: &sawRSA) {
                return
            }
        }
        for path in identityFiles {
            guard FileManager.default.fileExists(atPath: path) else { continue }
            if tryFile(session: session, path: path, logger: logger, attempts: &attempts, sawRSA: &sawRSA) {
                return
            }
        }

        let methods = user.withCString { libssh2_userauth_list(session, $0, UInt32(strlen($0))) }
        if libssh2_userauth_authenticated(session) != 0 { return }  // "none" was accepted
        let offered = methods.map { String(cString: $0) } ?? ""
        guard offered.split(separator: ",").contains("publickey") else {
            throw TransportError(.authentication, endpoint: endpoint,
                                 "the server does not accept public keys (it offers: \(offered.isEmpty ? "nothing" : offered))",
                                 hint: "muxsync authenticates with ssh-agent or key files; enable PubkeyAuthentication on the server")
        }
        let tried = attempts.isEmpty
            ? "no key was available (no ssh-agent, none of: \(identityFiles.joined(separator: ", ")))"
            : "tried " + attempts.map { "\($0.key) (\($0.outcome))" }.joined(separator: "; ")
        var hint = "add your public key to ~/.ssh/authorized_keys on the server, or name the key with IdentityFile in ssh config"
        if sawRSA {
            hint = "libssh2 1.10 can sign RSA keys only with ssh-rsa (SHA-1), which OpenSSH 8.8 and later refuse. "
                + "Use an ed25519 key: `ssh-keygen -t ed25519`, add the .pub to the server's authorized_keys, "
                + "and name it with IdentityFile"
        }
        throw TransportError(.authentication, endpoint: endpoint, "the server refused every key: \(tried)", hint: hint)
    }

    // MARK: ssh-agent

    private func tryAgent(session: OpaquePointer, socket: String, logger: Logger,
                          attempts: inout [Attempt], sawRSA: inout Bool) -> Bool {
        guard let agent = libssh2_agent_init(session) else { return false }
        defer {
            libssh2_agent_disconnect(agent)
            libssh2_agent_free(agent)
        }
        libssh2_agent_set_identity_path(agent, socket)
        guard libssh2_agent_connect(agent) == 0 else {
            logger.info("ssh-agent at SSH_AUTH_SOCK is not reachable; trying key files")
            return false
        }
        guard libssh2_agent_list_identities(agent) == 0 else { return false }
        let allowed = identitiesOnly ? Set(identityFiles.compactMap(publicKeyBlob(forKeyFile:))) : nil
        var previous: UnsafeMutablePointer<libssh2_agent_publickey>?
        var identity: UnsafeMutablePointer<libssh2_agent_publickey>?
        while libssh2_agent_get_identity(agent, &identity, previous) == 0, let id = identity {
            previous = id
            let blob = Array(UnsafeBufferPointer(start: id.pointee.blob, count: Int(id.pointee.blob_len)))
            if let allowed, !allowed.contains(blob) { continue }
            let comment = id.pointee.comment.map { String(cString: $0) } ?? "agent key"
            let isRSA = blob.starts(with: [0, 0, 0, 7] + Array("ssh-rsa".utf8))
            let rc = user.withCString { libssh2_agent_userauth(agent, $0, id) }
            if rc == 0 {
                logger.debug("authenticated with agent key \(comment)")
                return true
            }
            if isRSA { sawRSA = true }
            attempts.append(Attempt(key: "agent:\(comment)", outcome: isRSA ? "RSA, refused" : "refused"))
        }
        return false
    }

    // MARK: Key files

    private func tryFile(session: OpaquePointer, path: String, logger: Logger,
                         attempts: inout [Attempt], sawRSA: inout Bool) -> Bool {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            attempts.append(Attempt(key: path, outcome: "unreadable"))
            return false
        }
        guard let info = KeyFileInfo.inspect(text) else {
            attempts.append(Attempt(key: path, outcome: "not a private key"))
            return false
        }
        if info.algorithm == .rsa { sawRSA = true }
        var secret: String?
        if info.isEncrypted {
            guard let ask = passphrase else {
                attempts.append(Attempt(key: path, outcome: "encrypted and no terminal to ask for its passphrase: "
                                        + "load it with `ssh-add \(path)` and use ssh-agent"))
                return false
            }
            secret = ask(path)
        }
        let publicPath = FileManager.default.fileExists(atPath: path + ".pub") ? path + ".pub" : nil
        let rc = user.withCString { u in
            libssh2_userauth_publickey_fromfile_ex(session, u, UInt32(strlen(u)), publicPath, path, secret)
        }
        if rc == 0 {
            logger.debug("authenticated with key file \(path)")
            return true
        }
        let outcome: String
        switch rc {
        case LIBSSH2_ERROR_FILE:
            outcome = info.isEncrypted ? "wrong passphrase or unsupported key format" : "unsupported key format"
        case LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED, LIBSSH2_ERROR_AUTHENTICATION_FAILED:
            outcome = info.algorithm == .rsa ? "RSA, refused" : "refused by the server"
        default:
            outcome = "libssh2 error \(rc)"
        }
        attempts.append(Attempt(key: path, outcome: outcome))
        return false
    }

    /// The public key blob of `path.pub`, to match agent keys under IdentitiesOnly.
    private func publicKeyBlob(forKeyFile path: String) -> [UInt8]? {
        guard let text = try? String(contentsOfFile: path + ".pub", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count >= 2, let data = Data(base64Encoded: String(fields[1])) else { return nil }
        return Array(data)
    }
}
