#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import Foundation
import MuxDelta
import MuxTransport

// MARK: - What each remote holds, as muxsync last wrote it

/// One file as muxsync last wrote it to the remote.
public struct FileRecord: Sendable, Equatable {
    /// The remote size and mtime right after muxsync wrote it: if the remote
    /// shows something else, someone else changed the file there.
    public var size: UInt64
    public var mtime: Int64
    /// Key of the stored block signature of that content (large files only).
    public var signatureKey: String?

    public init(size: UInt64, mtime: Int64, signatureKey: String? = nil) {
        self.size = size
        self.mtime = mtime
        self.signatureKey = signatureKey
    }
}

/// The local record of one remote directory: an index of `FileRecord`s and a
/// folder of block signatures, under $XDG_STATE_HOME/muxsync (never inside the
/// synced tree). Every file is written to a temporary name and renamed, and
/// carries a CRC-32: a crash or a corrupt file only costs a full transfer.
public final class SyncStateStore: @unchecked Sendable {
    public let directory: String
    private let records = Locked([BytePath: FileRecord]())
    private static let magic: [UInt8] = Array("MXST".utf8)
    private static let version: UInt8 = 1
    /// Why the index could not be used, if it could not.
    public private(set) var loadProblem: String?

    /// The store for `remoteRoot` on `endpoint` ("user@host:port").
    public convenience init(endpoint: String, remoteRoot: String) {
        self.init(directory: Self.baseDirectory() + "/" + Self.key(endpoint + "\u{0}" + remoteRoot))
    }

    public init(directory: String) {
        self.directory = directory
        load()
    }

    /// $XDG_STATE_HOME/muxsync, else ~/.local/state/muxsync.
    public static func baseDirectory() -> String {
        let environment = ProcessInfo.processInfo.environment
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") { return state + "/muxsync" }
        return NSHomeDirectory() + "/.local/state/muxsync"
    }

    // MARK: Records

    public func record(_ path: String) -> FileRecord? { records.withLock { $0[BytePath(path)] } }

    public func setRecord(_ record: FileRecord, for path: String) {
        records.withLock { $0[BytePath(path)] = record }
    }

    public func removeRecord(_ path: String) {
        records.withLock { _ = $0.removeValue(forKey: BytePath(path)) }
    }

    /// Moves the records of `from` (and, for a directory, everything below it) to `to`.
    public func moveRecords(from: String, to: String) {
        records.withLock { table in
            let prefix = from + "/"
            for (key, record) in table where key.string == from || key.string.hasPrefix(prefix) {
                table.removeValue(forKey: key)
                table[BytePath(to + key.string.dropFirst(from.count))] = record
            }
        }
    }

    public var recordCount: Int { records.withLock { $0.count } }

    // MARK: Signatures

    /// The signature stored under `key`, or nil when missing or damaged.
    public func signature(_ key: String) -> FileSignature? {
        guard let data = FileManager.default.contents(atPath: signaturePath(key)) else { return nil }
        return try? FileSignature(deserializing: Array(data))
    }

    /// Stores a signature; returns its key (content-addressed, so rewriting is idempotent).
    public func storeSignature(_ signature: FileSignature) throws -> String {
        let key = signature.fileHash.description + "-" + String(signature.blockSize)
        let path = signaturePath(key)
        if FileManager.default.fileExists(atPath: path) { return key }
        try Self.writeAtomically(signature.serialized(), to: path)
        return key
    }

    private func signaturePath(_ key: String) -> String { directory + "/signatures/" + key }

    // MARK: Persisting the index

    /// Writes the index atomically and drops signatures no record uses.
    public func save() throws {
        let snapshot = records.withLock { $0 }
        var bytes = Self.magic + [Self.version]
        Self.append(UInt32(snapshot.count), to: &bytes)
        for (path, record) in snapshot.sorted(by: { $0.key < $1.key }) {
            let pathBytes = Array(path.string.utf8)
            Self.append(UInt32(pathBytes.count), to: &bytes)
            bytes += pathBytes
            Self.append(record.size, to: &bytes)
            Self.append(UInt64(bitPattern: record.mtime), to: &bytes)
            let key = Array((record.signatureKey ?? "").utf8)
            bytes.append(UInt8(clamping: key.count))
            bytes += key.prefix(255)
        }
        Self.append(Self.crc(bytes), to: &bytes)
        try Self.writeAtomically(bytes, to: directory + "/index")
        let used = Set(snapshot.values.compactMap(\.signatureKey))
        let folder = directory + "/signatures"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where !used.contains(name) {
            unlink(folder + "/" + name)
        }
    }

    private func load() {
        guard let data = FileManager.default.contents(atPath: directory + "/index") else { return }
        let bytes = Array(data)
        guard bytes.count >= 13, Array(bytes[0..<4]) == Self.magic, bytes[4] == Self.version else {
            loadProblem = "state index \(directory)/index is not a muxsync index; starting afresh"
            return
        }
        let body = bytes[0..<(bytes.count - 4)]
        guard Self.readUInt32(bytes, at: bytes.count - 4) == Self.crc(Array(body)) else {
            loadProblem = "state index \(directory)/index is damaged (checksum); starting afresh"
            return
        }
        var offset = 5
        guard let count = Self.readUInt32(bytes, at: offset) else { return }
        offset += 4
        var loaded: [BytePath: FileRecord] = [:]
        for _ in 0..<count {
            guard let length = Self.readUInt32(bytes, at: offset), offset + 4 + Int(length) + 17 <= body.count else {
                loadProblem = "state index \(directory)/index is truncated; starting afresh"
                return
            }
            offset += 4
            let path = String(decoding: bytes[offset..<offset + Int(length)], as: UTF8.self)
            offset += Int(length)
            let size = Self.readUInt64(bytes, at: offset) ?? 0
            let mtime = Int64(bitPattern: Self.readUInt64(bytes, at: offset + 8) ?? 0)
            let keyLength = Int(bytes[offset + 16])
            offset += 17
            guard offset + keyLength <= body.count else { return }
            let key = String(decoding: bytes[offset..<offset + keyLength], as: UTF8.self)
            offset += keyLength
            loaded[BytePath(path)] = FileRecord(size: size, mtime: mtime, signatureKey: key.isEmpty ? nil : key)
        }
        records.withLock { $0 = loaded }
    }

    // MARK: Bytes

    static func key(_ text: String) -> String {
        let value = Array(text.utf8).withUnsafeBytes { StrongHash.of($0) }
        return String(value.low, radix: 16)
    }

    static func crc(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes += $0 }
    }

    private static func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32? {
        guard offset >= 0, offset + 4 <= bytes.count else { return nil }
        return bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    private static func readUInt64(_ bytes: [UInt8], at offset: Int) -> UInt64? {
        guard offset >= 0, offset + 8 <= bytes.count else { return nil }
        return bytes[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Writes to a temporary name in the same directory, fsyncs, renames.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let temporary = path + ".new-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LocalIOError(path: temporary, operation: "create", errno: errno) }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(temporary) }
        }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            guard n > 0 else { throw LocalIOError(path: temporary, operation: "write", errno: errno) }
            written += n
        }
        guard fsync(fd) == 0 else { throw LocalIOError(path: temporary, operation: "sync", errno: errno) }
        guard rename(temporary, path) == 0 else { throw LocalIOError(path: path, operation: "replace", errno: errno) }
        ok = true
    }
}
