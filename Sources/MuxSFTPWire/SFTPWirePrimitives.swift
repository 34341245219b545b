// MARK: - Writing primitives

/// Big-endian integers and length-prefixed strings, the building blocks of every SFTP packet.
///
/// Public so callers can build bodies for ``SFTPRequest/raw(type:body:)`` and
/// ``SFTPRequest/extended(name:payload:)`` (for example a path that is not valid UTF-8).
public enum SFTPWire {
    /// Appends `value` as 4 bytes, most significant first.
    @inlinable
    public static func appendUInt32(_ value: UInt32, to buffer: inout [UInt8]) {
        buffer.append(UInt8(truncatingIfNeeded: value >> 24))
        buffer.append(UInt8(truncatingIfNeeded: value >> 16))
        buffer.append(UInt8(truncatingIfNeeded: value >> 8))
        buffer.append(UInt8(truncatingIfNeeded: value))
    }

    /// Appends `value` as 8 bytes, most significant first.
    @inlinable
    public static func appendUInt64(_ value: UInt64, to buffer: inout [UInt8]) {
        appendUInt32(UInt32(truncatingIfNeeded: value >> 32), to: &buffer)
        appendUInt32(UInt32(truncatingIfNeeded: value), to: &buffer)
    }

    /// Appends an SSH `string`: uint32 length, then the raw bytes.
    @inlinable
    public static func appendString(_ bytes: [UInt8], to buffer: inout [UInt8]) {
        appendUInt32(UInt32(truncatingIfNeeded: bytes.count), to: &buffer)
        buffer.append(contentsOf: bytes)
    }

    /// Appends an SSH `string` holding the UTF-8 bytes of `text`.
    @inlinable
    public static func appendString(_ text: String, to buffer: inout [UInt8]) {
        appendUInt32(UInt32(truncatingIfNeeded: text.utf8.count), to: &buffer)
        buffer.append(contentsOf: text.utf8)
    }

    /// Appends an SSH `string` holding raw bytes from memory (no intermediate array).
    @inlinable
    public static func appendString(_ bytes: UnsafeRawBufferPointer, to buffer: inout [UInt8]) {
        appendUInt32(UInt32(truncatingIfNeeded: bytes.count), to: &buffer)
        buffer.append(contentsOf: bytes)
    }

    /// Builds a byte array with the append functions above:
    /// `SFTPWire.bytes { SFTPWire.appendString(nameBytes, to: &$0) }`.
    public static func bytes(_ build: (inout [UInt8]) -> Void) -> [UInt8] {
        var buffer: [UInt8] = []
        build(&buffer)
        return buffer
    }

    // MARK: Text from wire bytes

    /// Decodes wire bytes as UTF-8, replacing invalid sequences with U+FFFD.
    /// Returns `isExact == false` when the bytes were not valid UTF-8 (the String is then lossy).
    static func decodeText(_ bytes: UnsafeRawBufferPointer) -> (text: String, isExact: Bool) {
        let text = String(decoding: bytes, as: UTF8.self)
        // Fast path: pure ASCII is always valid UTF-8.
        var ascii = true
        for byte in bytes where byte >= 0x80 {
            ascii = false
            break
        }
        if ascii { return (text, true) }
        // Lossy decoding changes the bytes exactly when the input was not valid UTF-8.
        let exact = text.utf8.count == bytes.count && text.utf8.elementsEqual(bytes)
        return (text, exact)
    }
}

// MARK: - Reading cursor

/// Reads fields from one complete packet held in memory. Every read checks the remaining
/// length first, so garbage can only produce ``SFTPWireError``, never an out-of-bounds access
/// or an allocation larger than the packet itself.
///
/// Only valid inside the `withUnsafeBytes` scope that produced `bytes`.
struct SFTPByteCursor {
    let bytes: UnsafeRawBufferPointer
    private(set) var position: Int = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Bytes not yet read.
    var remaining: Int { bytes.count - position }
    var isAtEnd: Bool { position >= bytes.count }

    private func require(_ count: Int, _ field: String) throws(SFTPWireError) {
        if count > remaining {
            throw .truncated("\(field) needs \(count) bytes at offset \(position), only \(remaining) left")
        }
    }

    mutating func readUInt8(_ field: String) throws(SFTPWireError) -> UInt8 {
        try require(1, field)
        let value = bytes[position]
        position += 1
        return value
    }

    mutating func readUInt32(_ field: String) throws(SFTPWireError) -> UInt32 {
        try require(4, field)
        let value = bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self)
        position += 4
        return UInt32(bigEndian: value)
    }

    mutating func readUInt64(_ field: String) throws(SFTPWireError) -> UInt64 {
        try require(8, field)
        let value = bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self)
        position += 8
        return UInt64(bigEndian: value)
    }

    /// Reads an SSH `string` and returns a view of its bytes (valid while `bytes` is).
    mutating func readStringView(_ field: String) throws(SFTPWireError) -> UnsafeRawBufferPointer {
        let announced = try readUInt32("\(field) length")
        // Compare in UInt64 space so a huge announced length cannot overflow Int arithmetic.
        if UInt64(announced) > UInt64(remaining) {
            throw .truncated("\(field) announces \(announced) bytes at offset \(position), only \(remaining) left")
        }
        let count = Int(announced)
        let view = UnsafeRawBufferPointer(rebasing: bytes[position ..< position + count])
        position += count
        return view
    }

    /// Reads an SSH `string` as a byte array (one copy).
    mutating func readBytes(_ field: String) throws(SFTPWireError) -> [UInt8] {
        Array(try readStringView(field))
    }

    /// Reads an SSH `string` as text, replacing invalid UTF-8 with U+FFFD.
    mutating func readText(_ field: String) throws(SFTPWireError) -> String {
        String(decoding: try readStringView(field), as: UTF8.self)
    }

    /// Everything left in the packet.
    mutating func readRest() -> [UInt8] {
        let rest = Array(UnsafeRawBufferPointer(rebasing: bytes[position...]))
        position = bytes.count
        return rest
    }

    /// Validates a count read from the wire: `count` items of at least `minimumSize` bytes each
    /// must fit in what is left, so callers may `reserveCapacity(count)` safely.
    func checkCount(_ count: UInt32, minimumSize: Int, _ field: String) throws(SFTPWireError) -> Int {
        let needed = UInt64(count) * UInt64(minimumSize)
        if needed > UInt64(remaining) {
            throw .malformed("\(field) count \(count) needs at least \(needed) bytes, only \(remaining) left")
        }
        return Int(count)
    }
}

// MARK: - Parsing arrays

extension SFTPByteCursor {
    /// Runs `body` with a cursor over the bytes of `array` (typed errors pass through).
    static func parse<Value>(
        _ array: [UInt8], _ body: (inout SFTPByteCursor) throws(SFTPWireError) -> Value
    ) throws(SFTPWireError) -> Value {
        let result: Result<Value, SFTPWireError> = array.withUnsafeBytes { raw in
            var cursor = SFTPByteCursor(raw)
            do throws(SFTPWireError) {
                return .success(try body(&cursor))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
