#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// MARK: - Flat JSON objects for watch --json

/// One value of a flat JSON object (watch --json lines), written with `JSONEncoder`.
/// Replaces `JSONSerialization`, which would link Foundation proper (and ICU) into the binary;
/// the text is the same: sorted keys, integers without a fraction, "/" escaped.
public enum JSONScalar: Encodable, Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case unsigned(UInt64)
    case number(Double)
    case bool(Bool)

    public init(_ value: String) { self = .string(value) }
    public init(_ value: Int) { self = .integer(Int64(value)) }
    public init(_ value: UInt64) { self = .unsigned(value) }
    public init(_ value: Double) { self = .number(value) }
    public init(_ value: Bool) { self = .bool(value) }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .unsigned(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        }
    }

    /// `object` as one line of JSON with sorted keys ("{}" if it cannot be encoded).
    public static func object(_ object: [String: JSONScalar]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(object) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
