// MARK: - Small text helpers without Foundation proper

// On Linux, calling Foundation's NSString-era String helpers (trimmingCharacters, NSString path
// methods, removingPercentEncoding, String.contains/range(of:)) links all of
// swift-corelibs-foundation, CoreFoundation and ICU (~60 MB) into the static binary, and every
// `muxsync` invocation pays for it at start-up. These do the same for the inputs muxsync has.

extension StringProtocol {
    /// Without leading and trailing blanks: spaces and tabs (Foundation's `.whitespaces`), and
    /// with `newlines` also line breaks (`.whitespacesAndNewlines`).
    public func trimmingBlanks(newlines: Bool = false) -> String {
        let scalars = String(self).unicodeScalars
        let isBlank: (Unicode.Scalar) -> Bool = { scalar in
            if scalar == "\t" || scalar.properties.generalCategory == .spaceSeparator { return true }
            guard newlines else { return false }
            switch scalar.value {
            case 0x0A...0x0D, 0x85, 0x2028, 0x2029: return true
            default: return false
            }
        }
        guard let first = scalars.firstIndex(where: { !isBlank($0) }),
              let last = scalars.lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }

    /// Whether `other` occurs in this text, byte for byte (no Unicode normalisation).
    public func containsText(_ other: some StringProtocol) -> Bool {
        let needle = Array(other.utf8)
        guard !needle.isEmpty else { return true }
        let haystack = Array(utf8)
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }

    /// %XX escapes decoded; nil for a malformed escape or a result that is not UTF-8
    /// (as Foundation's `removingPercentEncoding`).
    public var percentDecoded: String? {
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        let text = String(decoding: bytes, as: UTF8.self)
        return text.utf8.elementsEqual(bytes) ? text : nil
    }
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}

/// Path text like NSString's path methods, for "/"-separated paths.
public enum PathText {
    /// The path without its last component: "/a/b" -> "/a", "/a" -> "/", "a" -> "", "/" -> "/"
    /// (trailing slashes are ignored, as `NSString.deletingLastPathComponent`).
    public static func parent(of path: String) -> String {
        let bytes = Array(path.utf8)
        var end = bytes.count
        while end > 1 && bytes[end - 1] == UInt8(ascii: "/") { end -= 1 }
        guard let slash = bytes[..<end].lastIndex(of: UInt8(ascii: "/")) else { return "" }
        var cut = slash
        while cut > 0 && bytes[cut - 1] == UInt8(ascii: "/") { cut -= 1 }
        if cut == 0 { return "/" }
        return String(decoding: bytes[..<cut], as: UTF8.self)
    }

    /// The last component: "/a/b" -> "b", "/a/b/" -> "b", "/" -> "/", "a" -> "a"
    /// (as `NSString.lastPathComponent`).
    public static func lastComponent(of path: String) -> String {
        let bytes = Array(path.utf8)
        var end = bytes.count
        while end > 1 && bytes[end - 1] == UInt8(ascii: "/") { end -= 1 }
        if end == 1 && bytes[0] == UInt8(ascii: "/") { return "/" }
        let start = bytes[..<end].lastIndex(of: UInt8(ascii: "/")).map { $0 + 1 } ?? 0
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
