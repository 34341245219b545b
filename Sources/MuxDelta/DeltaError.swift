// MARK: - Errors

/// Errors thrown by MuxDelta. Each message names the cause and what to do about it.
public enum DeltaError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A serialized signature is shorter than its header or than the blocks it declares.
    case truncatedSignature(expected: Int, actual: Int)
    /// A serialized signature has bytes after the declared blocks and trailer.
    case trailingBytes(count: Int)
    /// The first bytes are not the signature magic.
    case badMagic
    /// The format version byte is not one this build understands.
    case unsupportedVersion(UInt8)
    /// The integrity trailer does not match the serialized bytes.
    case checksumMismatch
    /// Header fields contradict each other or are out of range.
    case inconsistentSignature(String)
    /// A copy operation reads past the end of the old file.
    case copyOutOfRange(oldOffset: UInt64, length: UInt64, oldLength: Int)
    /// A literal source returned a different number of bytes than the operation asked for.
    case literalSourceShort(newOffset: UInt64, expected: UInt64, actual: Int)
    /// A materialized operation list and the reconstructed length disagree with a signature.
    case reconstructionMismatch(String)

    public var description: String {
        switch self {
        case let .truncatedSignature(expected, actual):
            return "signature data is truncated: needs \(expected) bytes, got \(actual); "
                + "re-request the signature from the peer"
        case let .trailingBytes(count):
            return "signature data has \(count) unexpected trailing bytes; "
                + "pass exactly the bytes produced by FileSignature.serialized()"
        case .badMagic:
            return "data is not a MuxDelta signature (bad magic); check what was sent"
        case let .unsupportedVersion(version):
            return "signature format version \(version) is not supported by this build "
                + "(supported: \(FileSignature.formatVersion)); update both ends to the same muxsync"
        case .checksumMismatch:
            return "signature data is corrupt (integrity checksum mismatch); re-request it"
        case let .inconsistentSignature(reason):
            return "signature is inconsistent: \(reason); rebuild it from the file"
        case let .copyOutOfRange(offset, length, oldLength):
            return "copy of \(length) bytes at old offset \(offset) is outside the \(oldLength)-byte "
                + "old file; the delta was computed against a different old version"
        case let .literalSourceShort(offset, expected, actual):
            return "literal source returned \(actual) bytes for \(expected) at new offset \(offset); "
                + "the new file changed while the delta was applied"
        case let .reconstructionMismatch(reason):
            return "reconstructed file does not match: \(reason); resend the whole file"
        }
    }
}
