#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Asking for a key's passphrase

/// Returns the passphrase for an encrypted key file, or nil to skip the key.
public typealias PassphraseProvider = @Sendable (_ keyPath: String) -> String?

public enum PassphrasePrompt {
    /// A provider that asks on the controlling terminal with echo off, or nil
    /// when there is no terminal (muxsync then explains how to use ssh-agent).
    public static func terminal() -> PassphraseProvider? {
        let fd = open("/dev/tty", O_RDWR | O_NOCTTY)
        guard fd >= 0 else { return nil }
        close(fd)
        return { keyPath in readSecret(prompt: "Enter passphrase for key '\(keyPath)': ") }
    }

    private static func readSecret(prompt: String) -> String? {
        let fd = open("/dev/tty", O_RDWR | O_NOCTTY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        _ = prompt.withCString { write(fd, $0, strlen($0)) }
        var saved = termios()
        tcgetattr(fd, &saved)
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(fd, TCSAFLUSH, &quiet)
        defer {
            tcsetattr(fd, TCSAFLUSH, &saved)
            _ = write(fd, "\n", 1)
        }
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1, byte != UInt8(ascii: "\n"), byte != UInt8(ascii: "\r") {
            bytes.append(byte)
            if bytes.count > 4096 { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
