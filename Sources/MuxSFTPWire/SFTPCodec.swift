// MARK: - SFTPCodec

/// Encodes client packets of SFTP version 3 into a caller-owned buffer.
///
/// Every packet is `uint32 length` (of what follows), `byte type`, `uint32 request-id`
/// (except INIT), then the fields. Encoding appends to `buffer`, so many requests can be
/// batched into one channel write without intermediate arrays.
public enum SFTPCodec {
    // MARK: INIT

    /// INIT (1): uint32 version. The first packet of a session; the server answers VERSION.
    public static func encodeInit(version: UInt32 = 3) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(9)
        SFTPWire.appendUInt32(5, to: &buffer)
        buffer.append(SFTPPacketType.initialize.rawValue)
        SFTPWire.appendUInt32(version, to: &buffer)
        return buffer
    }

    // MARK: Requests

    /// Appends one complete packet (length prefix included) for `request` with request id `id`.
    ///
    /// Precondition: the packet is smaller than 4 GiB (the wire cannot express more).
    public static func encode(_ request: SFTPRequest, id: UInt32, into buffer: inout [UInt8]) {
        let total = encodedLength(request)
        precondition(total - 4 <= Int(UInt32.max), "SFTP packet of \(total) bytes cannot be framed")
        reserveGeometrically(&buffer, extra: total)
        let start = buffer.count
        SFTPWire.appendUInt32(UInt32(total - 4), to: &buffer)
        buffer.append(request.packetTypeByte)
        SFTPWire.appendUInt32(id, to: &buffer)
        appendBody(of: request, to: &buffer)
        assert(buffer.count - start == total, "encodedLength disagrees with encode for \(request.packetTypeByte)")
    }

    /// One complete packet for `request` as a new array.
    public static func encode(_ request: SFTPRequest, id: UInt32) -> [UInt8] {
        var buffer: [UInt8] = []
        encode(request, id: id, into: &buffer)
        return buffer
    }

    /// Bytes ``encode(_:id:into:)`` appends for `request`, length prefix included.
    public static func encodedLength(_ request: SFTPRequest) -> Int {
        9 + bodyLength(of: request)
    }

    // MARK: WRITE without copying the data into a request

    /// Bytes a WRITE adds around its data, length prefix included:
    /// uint32 length, byte type, uint32 id, string handle, uint64 offset, uint32 data length
    /// = `25 + handleLength`.
    ///
    /// The server's max-packet-length (``SFTPLimits/maxPacketLength``) counts the packet
    /// without the 4-byte prefix, so a write fits when
    /// `dataLength + writeOverhead(handleLength:) - 4 <= maxPacketLength`;
    /// ``SFTPLimits/writeChunkLength(handleLength:)`` computes the largest such length.
    public static func writeOverhead(handleLength: Int) -> Int {
        25 + handleLength
    }

    /// Appends the header of a WRITE packet whose `dataLength` data bytes the caller sends
    /// right after it (appended to the same buffer or written to the channel directly).
    /// Together they are byte-identical to ``encode(_:id:into:)`` of `.write`.
    public static func encodeWriteHeader(
        id: UInt32, handle: [UInt8], offset: UInt64, dataLength: Int, into buffer: inout [UInt8]
    ) {
        let total = writeOverhead(handleLength: handle.count) + dataLength
        precondition(total - 4 <= Int(UInt32.max), "SFTP WRITE of \(dataLength) bytes cannot be framed")
        SFTPWire.appendUInt32(UInt32(total - 4), to: &buffer)
        buffer.append(SFTPPacketType.write.rawValue)
        SFTPWire.appendUInt32(id, to: &buffer)
        SFTPWire.appendString(handle, to: &buffer)
        SFTPWire.appendUInt64(offset, to: &buffer)
        SFTPWire.appendUInt32(UInt32(dataLength), to: &buffer)
    }

    /// Appends a complete WRITE packet taking its data straight from memory (one copy).
    public static func encodeWrite(
        id: UInt32, handle: [UInt8], offset: UInt64, data: UnsafeRawBufferPointer, into buffer: inout [UInt8]
    ) {
        reserveGeometrically(&buffer, extra: writeOverhead(handleLength: handle.count) + data.count)
        encodeWriteHeader(id: id, handle: handle, offset: offset, dataLength: data.count, into: &buffer)
        buffer.append(contentsOf: data)
    }

    // MARK: Body layout

    /// Length of everything after the request id.
    static func bodyLength(of request: SFTPRequest) -> Int {
        switch request {
        case let .open(path, _, attributes):
            return 8 + path.utf8.count + attributes.encodedLength
        case let .close(handle), let .fstat(handle), let .readdir(handle):
            return 4 + handle.count
        case let .read(handle, _, _):
            return 16 + handle.count
        case let .write(handle, _, data):
            return 16 + handle.count + data.count
        case let .lstat(path), let .opendir(path), let .remove(path), let .rmdir(path),
             let .realpath(path), let .stat(path), let .readlink(path):
            return 4 + path.utf8.count
        case let .setstat(path, attributes), let .mkdir(path, attributes):
            return 4 + path.utf8.count + attributes.encodedLength
        case let .fsetstat(handle, attributes):
            return 4 + handle.count + attributes.encodedLength
        case let .rename(first, second), let .symlink(first, second):
            return 8 + first.utf8.count + second.utf8.count
        case let .posixRename(oldPath, newPath), let .hardlink(oldPath, newPath):
            return extensionHeader(request) + 8 + oldPath.utf8.count + newPath.utf8.count
        case let .fsync(handle), let .fstatvfs(handle):
            return extensionHeader(request) + 4 + handle.count
        case let .statvfs(path), let .expandPath(path):
            return extensionHeader(request) + 4 + path.utf8.count
        case .limits:
            return extensionHeader(request)
        case let .copyData(readHandle, _, _, writeHandle, _):
            return extensionHeader(request) + 32 + readHandle.count + writeHandle.count
        case let .lsetstat(path, attributes):
            return extensionHeader(request) + 4 + path.utf8.count + attributes.encodedLength
        case let .extended(name, payload):
            return 4 + name.utf8.count + payload.count
        case let .raw(_, body):
            return body.count
        }
    }

    /// The `string name` that opens an EXTENDED body.
    private static func extensionHeader(_ request: SFTPRequest) -> Int {
        4 + (request.extensionName?.utf8.count ?? 0)
    }

    /// Appends everything after the request id.
    static func appendBody(of request: SFTPRequest, to buffer: inout [UInt8]) {
        if case .extended = request {
            // Name is written below together with the verbatim payload.
        } else if let name = request.extensionName {
            SFTPWire.appendString(name, to: &buffer)
        }
        switch request {
        case let .open(path, flags, attributes):
            SFTPWire.appendString(path, to: &buffer)
            SFTPWire.appendUInt32(flags.rawValue, to: &buffer)
            attributes.encode(into: &buffer)
        case let .close(handle), let .fstat(handle), let .readdir(handle),
             let .fsync(handle), let .fstatvfs(handle):
            SFTPWire.appendString(handle, to: &buffer)
        case let .read(handle, offset, length):
            SFTPWire.appendString(handle, to: &buffer)
            SFTPWire.appendUInt64(offset, to: &buffer)
            SFTPWire.appendUInt32(length, to: &buffer)
        case let .write(handle, offset, data):
            SFTPWire.appendString(handle, to: &buffer)
            SFTPWire.appendUInt64(offset, to: &buffer)
            SFTPWire.appendString(data, to: &buffer)
        case let .lstat(path), let .opendir(path), let .remove(path), let .rmdir(path),
             let .realpath(path), let .stat(path), let .readlink(path),
             let .statvfs(path), let .expandPath(path):
            SFTPWire.appendString(path, to: &buffer)
        case let .setstat(path, attributes), let .mkdir(path, attributes), let .lsetstat(path, attributes):
            SFTPWire.appendString(path, to: &buffer)
            attributes.encode(into: &buffer)
        case let .fsetstat(handle, attributes):
            SFTPWire.appendString(handle, to: &buffer)
            attributes.encode(into: &buffer)
        case let .rename(oldPath, newPath), let .posixRename(oldPath, newPath), let .hardlink(oldPath, newPath):
            SFTPWire.appendString(oldPath, to: &buffer)
            SFTPWire.appendString(newPath, to: &buffer)
        case let .symlink(linkPath, targetPath):
            // OpenSSH order: target first, then the link to create (see SFTPRequest.symlink).
            SFTPWire.appendString(targetPath, to: &buffer)
            SFTPWire.appendString(linkPath, to: &buffer)
        case .limits:
            break
        case let .copyData(readHandle, readOffset, length, writeHandle, writeOffset):
            SFTPWire.appendString(readHandle, to: &buffer)
            SFTPWire.appendUInt64(readOffset, to: &buffer)
            SFTPWire.appendUInt64(length, to: &buffer)
            SFTPWire.appendString(writeHandle, to: &buffer)
            SFTPWire.appendUInt64(writeOffset, to: &buffer)
        case let .extended(name, payload):
            SFTPWire.appendString(name, to: &buffer)
            buffer.append(contentsOf: payload)
        case let .raw(_, body):
            buffer.append(contentsOf: body)
        }
    }

    // MARK: Buffer growth

    /// Makes room for `extra` bytes, at least doubling the capacity when it must grow, so
    /// appending many packets to one buffer stays linear (a plain `reserveCapacity` of the
    /// exact size on every call would reallocate each time).
    static func reserveGeometrically(_ buffer: inout [UInt8], extra: Int) {
        let needed = buffer.count + extra
        if needed > buffer.capacity {
            buffer.reserveCapacity(Swift.max(needed, buffer.capacity * 2))
        }
    }
}
