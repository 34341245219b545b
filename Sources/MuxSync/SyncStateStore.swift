#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib
import Foundation
import MuxDelta
import MuxSSHConfig
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
    /// The local file as it was when muxsync read the content it sent (size, mtime with
    /// nanoseconds). The remote keeps whole seconds only, so this is what tells a
    /// same-second, same-size edit from the version already sent. nil when unknown (an
    /// index of format 1, or a record refreshed from what the remote shows).
    public var localVersion: FileVersion?

    public init(size: UInt64, mtime: Int64, signatureKey: String? = nil, localVersion: FileVersion? = nil) {
        self.size = size
        self.mtime = mtime
        self.signatureKey = signatureKey
        self.localVersion = localVersion
    }

    /// Whether `local`, a local file equal to `remote` by size and mtime seconds, is
    /// nevertheless not the version muxsync sent: the remote still holds what muxsync
    /// wrote, but the local file's size or full-precision mtime moved since it was read
    /// (an edit in the same second that kept the size). False when `localVersion` is
    /// unknown, which leaves the plain size + mtime quick check in charge.
    public func localEditedSinceSent(local: TreeEntry, remote: TreeEntry) -> Bool {
        guard let sent = localVersion, size == remote.size, mtime == remote.mtime else { return false }
        // The remote holds mtimes as unsigned 32-bit seconds: compare seconds that way.
        return sent.size != local.size || sent.nanoseconds != local.mtimeNanoseconds
            || UInt32(clamping: sent.mtime) != UInt32(clamping: local.mtime)
    }
}

/// The local record of one remote directory: an index of `FileRecord`s and a
/// folder of block signatures, under $XDG_STATE_HOME/muxsync (never inside the
/// synced tree). Every file is written to a temporary name and renamed, and
/// carries a CRC-32: a crash or a corrupt file only costs a full transfer.
///
/// Index format 2 adds each record's ``FileRecord/localVersion``; a format 1 index
/// still loads, its records without it (the quick check then works as before).
public final class SyncStateStore: @unchecked Sendable {
    public let directory: String
    private let records = Locked([BytePath: FileRecord]())
    private static let magic: [UInt8] = Array("MXST".utf8)
    /// The format written; ``readableVersions`` are those loaded.
    private static let version: UInt8 = 2
    private static let readableVersions: ClosedRange<UInt8> = 1...2
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
        return SSHLocalContext.current().homeDirectory + "/.local/state/muxsync"
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
            if let local = record.localVersion {
                bytes.append(1)
                Self.append(local.size, to: &bytes)
                Self.append(UInt64(bitPattern: local.mtime), to: &bytes)
                Self.append(UInt32(bitPattern: local.nanoseconds), to: &bytes)
            } else {
                bytes.append(0)
            }
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
        guard bytes.count >= 13, Array(bytes[0..<4]) == Self.magic, Self.readableVersions.contains(bytes[4]) else {
            loadProblem = "state index \(directory)/index is not a muxsync index (or from a newer muxsync); starting afresh"
            return
        }
        var trailer = IndexReader(bytes: bytes[(bytes.count - 4)...])
        guard trailer.uint32() == Self.crc(Array(bytes[0..<(bytes.count - 4)])) else {
            loadProblem = "state index \(directory)/index is damaged (checksum); starting afresh"
            return
        }
        guard let loaded = Self.decodeRecords(bytes[5..<(bytes.count - 4)], version: bytes[4]) else {
            loadProblem = "state index \(directory)/index is truncated; starting afresh"
            return
        }
        records.withLock { $0 = loaded }
    }

    /// The records of an index body (after magic and version, before the CRC); nil when
    /// it ends early.
    private static func decodeRecords(_ body: ArraySlice<UInt8>, version: UInt8) -> [BytePath: FileRecord]? {
        var reader = IndexReader(bytes: body)
        guard let count = reader.uint32() else { return nil }
        var loaded: [BytePath: FileRecord] = [:]
        for _ in 0..<count {
            guard let length = reader.uint32(), let path = reader.text(Int(length)),
                  let size = reader.uint64(), let mtime = reader.uint64(),
                  let keyLength = reader.byte(), let key = reader.text(Int(keyLength)) else { return nil }
            var record = FileRecord(size: size, mtime: Int64(bitPattern: mtime), signatureKey: key.isEmpty ? nil : key)
            if version >= 2 {
                guard let hasLocal = reader.byte() else { return nil }
                if hasLocal == 1 {
                    guard let localSize = reader.uint64(), let localMtime = reader.uint64(),
                          let nanoseconds = reader.uint32() else { return nil }
                    record.localVersion = FileVersion(size: localSize, mtime: Int64(bitPattern: localMtime),
                                                      nanoseconds: Int32(bitPattern: nanoseconds))
                }
            }
            loaded[BytePath(path)] = record
        }
        return loaded
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

    /// Writes to a temporary name in the same directory, fsyncs, renames.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let folder = PathText.parent(of: path)
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

// MARK: - Reading an index body

/// Big-endian fields read one after another; every read is nil past the end.
private struct IndexReader {
    let bytes: ArraySlice<UInt8>
    private var offset: Int

    init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        offset = bytes.startIndex
    }

    private mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, count <= bytes.endIndex - offset else { return nil }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func byte() -> UInt8? { take(1)?.first }
    mutating func uint32() -> UInt32? { take(4)?.reduce(0) { $0 << 8 | UInt32($1) } }
    mutating func uint64() -> UInt64? { take(8)?.reduce(0) { $0 << 8 | UInt64($1) } }
    mutating func text(_ count: Int) -> String? { take(count).map { String(decoding: $0, as: UTF8.self) } }
}
