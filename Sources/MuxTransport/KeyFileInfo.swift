import Foundation
import MuxSSHConfig

// MARK: - What a private key file is, without decrypting it

/// The type and encryption state of a private key file, read from its text.
/// Pure: lets muxsync decide whether to ask for a passphrase and explain an RSA
/// key's refusal before libssh2 says only "authentication failed".
public struct KeyFileInfo: Sendable, Equatable {
    public enum Algorithm: String, Sendable {
        case ed25519 = "ssh-ed25519"
        case ecdsa = "ecdsa"
        case rsa = "ssh-rsa"
        case dsa = "ssh-dss"
        case unknown = "unknown"
    }

    public var algorithm: Algorithm
    public var isEncrypted: Bool

    public init(algorithm: Algorithm, isEncrypted: Bool) {
        self.algorithm = algorithm
        self.isEncrypted = isEncrypted
    }

    /// Inspects the PEM or OpenSSH-format text of a private key. Nil when the
    /// text is not a private key at all.
    public static func inspect(_ text: String) -> KeyFileInfo? {
        if text.containsText("-----BEGIN OPENSSH PRIVATE KEY-----") {
            return inspectOpenSSH(text)
        }
        let encrypted = text.containsText("ENCRYPTED")
        if text.containsText("-----BEGIN RSA PRIVATE KEY-----") { return KeyFileInfo(algorithm: .rsa, isEncrypted: encrypted) }
        if text.containsText("-----BEGIN EC PRIVATE KEY-----") { return KeyFileInfo(algorithm: .ecdsa, isEncrypted: encrypted) }
        if text.containsText("-----BEGIN DSA PRIVATE KEY-----") { return KeyFileInfo(algorithm: .dsa, isEncrypted: encrypted) }
        if text.containsText("-----BEGIN ENCRYPTED PRIVATE KEY-----") { return KeyFileInfo(algorithm: .unknown, isEncrypted: true) }
        if text.containsText("-----BEGIN PRIVATE KEY-----") { return KeyFileInfo(algorithm: .unknown, isEncrypted: false) }
        return nil
    }

    /// openssh-key-v1: magic, string cipher, string kdf, string kdfoptions,
    /// uint32 count, string public key (whose first field is the key type).
    private static func inspectOpenSSH(_ text: String) -> KeyFileInfo? {
        let body = text
            .split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("-----") }
            .joined()
            .trimmingBlanks(newlines: true)
        guard let data = Data(base64Encoded: body, options: .ignoreUnknownCharacters) else { return nil }
        var reader = ByteReader(Array(data))
        let magic = Array("openssh-key-v1".utf8) + [0]
        guard reader.take(magic.count) == magic,
              let cipher = reader.string(), reader.string() != nil, reader.string() != nil,
              reader.uint32() != nil, let publicKey = reader.field()
        else { return nil }
        var keyReader = ByteReader(publicKey)
        let type = keyReader.string() ?? ""
        let algorithm: Algorithm
        switch type {
        case "ssh-ed25519": algorithm = .ed25519
        case "ssh-rsa": algorithm = .rsa
        case "ssh-dss": algorithm = .dsa
        case _ where type.hasPrefix("ecdsa-sha2-"): algorithm = .ecdsa
        default: algorithm = .unknown
        }
        return KeyFileInfo(algorithm: algorithm, isEncrypted: cipher != "none")
    }
}

/// Reads SSH wire-format fields (uint32 lengths, big-endian).
struct ByteReader {
    private let storage: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.storage = bytes }

    mutating func take(_ n: Int) -> [UInt8]? {
        guard n >= 0, storage.count - offset >= n else { return nil }
        defer { offset += n }
        return Array(storage[offset..<offset + n])
    }

    mutating func uint32() -> UInt32? {
        guard let b = take(4) else { return nil }
        return b.reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func field() -> [UInt8]? {
        guard let n = uint32(), n <= UInt32(storage.count) else { return nil }
        return take(Int(n))
    }

    mutating func string() -> String? {
        field().map { String(decoding: $0, as: UTF8.self) }
    }
}
