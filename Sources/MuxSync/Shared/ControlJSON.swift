#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// MARK: - The JSON of control messages, written and read by hand

/// Control messages (`ControlRequest`, `ControlReply`) are small flat JSON objects. They are
/// written and parsed here rather than with JSONEncoder/JSONDecoder: Codable's first use in a
/// process (generic metadata, dynamic casts) cost `muxsync exec` about 0.3 ms on every start,
/// a tenth of its whole budget (issue #6). The wire format is unchanged: one JSON object per
/// frame, so anything that spoke the protocol before still does.
public enum ControlJSON {
    /// A parsed JSON value.
    public indirect enum Value: Equatable, Sendable {
        case null
        case bool(Bool)
        case number(Double)
        case string(String)
        case array([Value])
        case object([String: Value])
    }

    /// Nesting deeper than this is refused (control messages nest at most two levels).
    public static let maxDepth = 16

    // MARK: Writing

    /// Builds one JSON object; `nil` values are left out.
    public struct ObjectWriter {
        private var bytes: [UInt8] = [UInt8(ascii: "{")]

        public init() {}

        public mutating func add(_ key: String, _ value: String?) {
            guard let value else { return }
            self.key(key)
            ControlJSON.appendString(value, to: &bytes)
        }

        public mutating func add(_ key: String, _ value: Int?) {
            guard let value else { return }
            self.key(key)
            bytes += Array(String(value).utf8)
        }

        public mutating func add(_ key: String, _ value: Double?) {
            guard let value else { return }
            self.key(key)
            // Integral values without a fraction, as JSONEncoder writes them.
            if value.isFinite, value.rounded() == value, abs(value) < 1e15 {
                bytes += Array(String(Int64(value)).utf8)
            } else if value.isFinite {
                bytes += Array(String(value).utf8)
            } else {
                bytes += Array("null".utf8)
            }
        }

        public mutating func add(_ key: String, _ value: Bool?) {
            guard let value else { return }
            self.key(key)
            bytes += Array((value ? "true" : "false").utf8)
        }

        public mutating func add(_ key: String, _ values: [String]?) {
            guard let values else { return }
            self.key(key)
            bytes.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                ControlJSON.appendString(value, to: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        }

        /// Bytes as a base64 string (the JSON form of `Data`).
        public mutating func add(_ key: String, base64 value: [UInt8]?) {
            guard let value else { return }
            add(key, Data(value).base64EncodedString())
        }

        /// A nested object, already written.
        public mutating func add(_ key: String, object: [UInt8]?) {
            guard let object else { return }
            self.key(key)
            bytes += object
        }

        /// The object's text.
        public func finished() -> [UInt8] { bytes + [UInt8(ascii: "}")] }

        private mutating func key(_ key: String) {
            if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
            ControlJSON.appendString(key, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
        }
    }

    /// `text` as a JSON string literal: quotes, backslashes and control characters escaped.
    static func appendString(_ text: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\n"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case UInt8(ascii: "\t"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xf)]]
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    // MARK: Reading

    /// Parses one complete JSON document (whitespace around it allowed).
    public static func parse(_ bytes: [UInt8]) throws(ControlError) -> Value {
        var parser = Parser(bytes: bytes)
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.failure("text after the JSON value") }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        func failure(_ what: String) -> ControlError { .malformed("\(what) at byte \(index)") }

        mutating func skipWhitespace() {
            while index < bytes.count,
                  bytes[index] == 0x20 || bytes[index] == 0x0a || bytes[index] == 0x0d || bytes[index] == 0x09 {
                index += 1
            }
        }

        mutating func value(depth: Int) throws(ControlError) -> Value {
            guard depth <= ControlJSON.maxDepth else { throw failure("nesting deeper than \(ControlJSON.maxDepth)") }
            skipWhitespace()
            guard index < bytes.count else { throw failure("unexpected end") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            default: return .number(try number())
            }
        }

        mutating func object(depth: Int) throws(ControlError) -> Value {
            index += 1
            var members: [String: Value] = [:]
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw failure("expected a key") }
                let key = try string()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw failure("expected ':'") }
                index += 1
                members[key] = try value(depth: depth + 1)
                skipWhitespace()
                guard index < bytes.count else { throw failure("unexpected end in an object") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
                throw failure("expected ',' or '}'")
            }
        }

        mutating func array(depth: Int) throws(ControlError) -> Value {
            index += 1
            var elements: [Value] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                elements.append(try value(depth: depth + 1))
                skipWhitespace()
                guard index < bytes.count else { throw failure("unexpected end in an array") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
                throw failure("expected ',' or ']'")
            }
        }

        mutating func literal(_ word: String) throws(ControlError) {
            let expected = Array(word.utf8)
            guard index + expected.count <= bytes.count, bytes[index..<(index + expected.count)].elementsEqual(expected) else {
                throw failure("unknown literal")
            }
            index += expected.count
        }

        mutating func number() throws(ControlError) -> Double {
            let start = index
            while index < bytes.count, Self.isNumberByte(bytes[index]) { index += 1 }
            guard index > start, let value = Double(String(decoding: bytes[start..<index], as: UTF8.self)), value.isFinite else {
                index = start
                throw failure("expected a value")
            }
            return value
        }

        static func isNumberByte(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
                 UInt8(ascii: "e"), UInt8(ascii: "E"):
                return true
            default:
                return false
            }
        }

        mutating func string() throws(ControlError) -> String {
            index += 1  // the opening quote
            var out: [UInt8] = []
            while true {
                guard index < bytes.count else { throw failure("unterminated string") }
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    let text = String(decoding: out, as: UTF8.self)
                    guard text.utf8.elementsEqual(out) else { throw failure("a string that is not UTF-8") }
                    return text
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { throw failure("unterminated escape") }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0c)
                    case UInt8(ascii: "n"): out.append(0x0a)
                    case UInt8(ascii: "r"): out.append(0x0d)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"): out += Array(String(try unicodeEscape()).utf8)
                    default: throw failure("unknown escape")
                    }
                case 0..<0x20:
                    throw failure("a control character in a string")
                default:
                    out.append(byte)
                }
            }
        }

        /// The character of `\uXXXX` (after the `u`), with a following low surrogate if needed.
        mutating func unicodeEscape() throws(ControlError) -> Character {
            let high = try hex4()
            if (0xD800..<0xDC00).contains(high) {
                guard index + 2 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw failure("an unpaired surrogate")
                }
                index += 2
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low),
                      let scalar = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)) else {
                    throw failure("an unpaired surrogate")
                }
                return Character(scalar)
            }
            guard let scalar = Unicode.Scalar(high) else { throw failure("an unpaired surrogate") }
            return Character(scalar)
        }

        mutating func hex4() throws(ControlError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw failure("a short \\u escape") }
            var value: UInt32 = 0
            for byte in bytes[index..<(index + 4)] {
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: throw failure("a bad \\u escape")
                }
                value = value << 4 | digit
            }
            index += 4
            return value
        }
    }
}

// MARK: - Reading fields of an object

extension ControlJSON.Value {
    /// The members of an object (a message must be one).
    public func members(of what: String) throws(ControlError) -> [String: ControlJSON.Value] {
        guard case .object(let members) = self else { throw ControlError.malformed("\(what) is not a JSON object") }
        return members
    }
}

extension Dictionary where Key == String, Value == ControlJSON.Value {
    /// A string field; nil when absent or null.
    public func string(_ key: String) throws(ControlError) -> String? {
        switch self[key] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw ControlError.malformed("'\(key)' is not a string")
        }
    }

    /// A required string field.
    public func requiredString(_ key: String) throws(ControlError) -> String {
        guard let text = try string(key) else { throw ControlError.malformed("'\(key)' is missing") }
        return text
    }

    /// An integer field that fits `T`; nil when absent or null.
    public func integer<T: FixedWidthInteger>(_ key: String, as type: T.Type = T.self) throws(ControlError) -> T? {
        switch self[key] {
        case nil, .null?: return nil
        case .number(let value)?:
            guard value.rounded() == value, let exact = T(exactly: value) else {
                throw ControlError.malformed("'\(key)' is not an integer in range")
            }
            return exact
        default: throw ControlError.malformed("'\(key)' is not a number")
        }
    }

    /// A number field; nil when absent or null.
    public func number(_ key: String) throws(ControlError) -> Double? {
        switch self[key] {
        case nil, .null?: return nil
        case .number(let value)?: return value
        default: throw ControlError.malformed("'\(key)' is not a number")
        }
    }

    /// A boolean field; nil when absent or null.
    public func bool(_ key: String) throws(ControlError) -> Bool? {
        switch self[key] {
        case nil, .null?: return nil
        case .bool(let value)?: return value
        default: throw ControlError.malformed("'\(key)' is not true or false")
        }
    }

    /// An array of strings; nil when absent or null.
    public func strings(_ key: String) throws(ControlError) -> [String]? {
        switch self[key] {
        case nil, .null?: return nil
        case .array(let values)?:
            var texts: [String] = []
            texts.reserveCapacity(values.count)
            for value in values {
                guard case .string(let text) = value else { throw ControlError.malformed("'\(key)' holds a non-string") }
                texts.append(text)
            }
            return texts
        default: throw ControlError.malformed("'\(key)' is not an array")
        }
    }

    /// Bytes written as base64; nil when absent or null.
    public func base64(_ key: String) throws(ControlError) -> [UInt8]? {
        guard let text = try string(key) else { return nil }
        guard let data = Data(base64Encoded: text) else { throw ControlError.malformed("'\(key)' is not base64") }
        return [UInt8](data)
    }
}
