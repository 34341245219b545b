import CLibSSH2
import Foundation
import Logging
import MuxSSHConfig

// MARK: - known_hosts verification, before any credential is sent

/// What to do with a host whose key is not in known_hosts.
public enum UnknownHostPolicy: Sendable, Equatable {
    /// Refuse and print the fingerprint (StrictHostKeyChecking yes/ask, the default).
    case refuse
    /// Record the key and go on (`--accept-new`, StrictHostKeyChecking accept-new).
    case acceptNew
    /// Record the key and go on (StrictHostKeyChecking no/off, as OpenSSH does).
    case acceptAny
}

/// Checks the server's host key against the user's known_hosts files (hashed
/// entries included) right after the key exchange. A changed key is always
/// refused: no flag overrides it.
struct HostKeyVerifier {
    var hostName: String
    var port: Int
    var knownHostsFiles: [String]
    var policy: UnknownHostPolicy

    /// known_hosts writes "[host]:port" for ports other than 22.
    var knownHostsName: String { port == 22 ? hostName : "[\(hostName)]:\(port)" }

    func verify(session: OpaquePointer, endpoint: String, logger: Logger) throws(TransportError) {
        var keyLength = 0
        var keyType: Int32 = 0
        guard let key = libssh2_session_hostkey(session, &keyLength, &keyType) else {
            throw TransportError(.hostKey, endpoint: endpoint, "the server sent no host key")
        }
        let keyBytes = Array(UnsafeRawBufferPointer(start: key, count: keyLength))
        let typeName = Self.typeName(keyType)
        let fingerprint = Self.fingerprint(session: session)

        guard let hosts = libssh2_knownhost_init(session) else {
            throw TransportError(.hostKey, endpoint: endpoint, "cannot initialise known_hosts support")
        }
        defer { libssh2_knownhost_free(hosts) }
        var revoked = false
        for file in knownHostsFiles {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            var lineNumber = 0
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                lineNumber += 1
                let trimmed = line.trimmingBlanks()
                if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                if trimmed.hasPrefix("@revoked") {
                    if trimmed.containsText(Data(keyBytes).base64EncodedString()) { revoked = true }
                    continue
                }
                if trimmed.hasPrefix("@") { continue }  // @cert-authority: certificates are not used
                let rc = trimmed.withCString {
                    libssh2_knownhost_readline(hosts, $0, strlen($0), LIBSSH2_KNOWNHOST_FILE_OPENSSH)
                }
                if rc != 0 { logger.debug("\(file):\(lineNumber): unreadable known_hosts line skipped") }
            }
        }
        if revoked {
            throw TransportError(.hostKey, endpoint: endpoint,
                                 "the host key \(fingerprint) is marked @revoked in known_hosts",
                                 hint: "do not connect; ask the server's administrator")
        }

        let typeMask = Self.knownHostTypeMask(keyType)
        let check = keyBytes.withUnsafeBufferPointer { kb in
            kb.withMemoryRebound(to: CChar.self) { k in
                libssh2_knownhost_checkp(hosts, hostName, port == 22 ? -1 : Int32(port), k.baseAddress, keyLength,
                                         LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | typeMask, nil)
            }
        }
        switch check {
        case LIBSSH2_KNOWNHOST_CHECK_MATCH:
            logger.debug("host key \(typeName) \(fingerprint) matches known_hosts")
        case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
            let file = knownHostsFiles.first ?? "~/.ssh/known_hosts"
            throw TransportError(.hostKey, endpoint: endpoint, """
                WARNING: THE HOST KEY FOR \(knownHostsName) HAS CHANGED. Someone could be intercepting \
                the connection, or the server was reinstalled. The server now offers \(typeName) \(fingerprint).
                """, hint: "muxsync will not connect. If the change is expected, remove the old key with "
                    + "`ssh-keygen -R '\(knownHostsName)' -f \(file)` and connect again.")
        case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
            switch policy {
            case .refuse:
                throw TransportError(.hostKey, endpoint: endpoint,
                                     "\(knownHostsName) is not a known host; its \(typeName) key is \(fingerprint)",
                                     hint: "check the fingerprint with the server's administrator, then rerun with "
                                         + "--accept-new (or set StrictHostKeyChecking accept-new in ssh config)")
            case .acceptNew, .acceptAny:
                try record(keyBytes: keyBytes, typeName: typeName, endpoint: endpoint)
                logger.notice("added \(knownHostsName) (\(typeName) \(fingerprint)) to \(knownHostsFiles.first ?? "")")
            }
        default:
            throw TransportError(.hostKey, endpoint: endpoint, "cannot check the host key against known_hosts")
        }
    }

    /// Appends the key to the first known_hosts file (creating it 0600 in a 0700 dir).
    private func record(keyBytes: [UInt8], typeName: String, endpoint: String) throws(TransportError) {
        guard let file = knownHostsFiles.first else {
            throw TransportError(.hostKey, endpoint: endpoint, "no known_hosts file to record the key in")
        }
        let line = "\(knownHostsName) \(typeName) \(Data(keyBytes).base64EncodedString())\n"
        let directory = PathText.parent(of: file)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw TransportError(.hostKey, endpoint: endpoint, "cannot create \(directory): \(error)")
        }
        let fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw TransportError(.hostKey, endpoint: endpoint, "cannot write \(file): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let bytes = Array(line.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw TransportError(.hostKey, endpoint: endpoint, "cannot write \(file): \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }

    // MARK: Key type names and fingerprints

    static func fingerprint(session: OpaquePointer) -> String {
        guard let hash = libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256) else { return "SHA256:?" }
        let digest = Data(bytes: hash, count: 32).base64EncodedString()
        return "SHA256:" + digest.filter { $0 != "=" }
    }

    static func typeName(_ type: Int32) -> String {
        switch type {
        case LIBSSH2_HOSTKEY_TYPE_RSA: return "ssh-rsa"
        case LIBSSH2_HOSTKEY_TYPE_DSS: return "ssh-dss"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return "ecdsa-sha2-nistp256"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return "ecdsa-sha2-nistp384"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return "ecdsa-sha2-nistp521"
        case LIBSSH2_HOSTKEY_TYPE_ED25519: return "ssh-ed25519"
        default: return "unknown"
        }
    }

    static func knownHostTypeMask(_ type: Int32) -> Int32 {
        switch type {
        case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA
        case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521
        case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519
        default: return LIBSSH2_KNOWNHOST_KEY_UNKNOWN
        }
    }
}
