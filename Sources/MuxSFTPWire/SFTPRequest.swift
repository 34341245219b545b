// MARK: - SFTPRequest

/// One client request of SFTP version 3, with the OpenSSH extensions muxsync uses.
///
/// Paths are `String`s and go on the wire as their UTF-8 bytes. A remote name that is not
/// valid UTF-8 (see ``SFTPNameEntry/filenameBytes``) cannot be spelled as a `String`; send
/// such a request with ``raw(type:body:)`` and build the body with ``SFTPWire``, e.g.
/// `.raw(type: SFTPPacketType.remove.rawValue, body: SFTPWire.bytes { SFTPWire.appendString(nameBytes, to: &$0) })`.
public enum SFTPRequest: Sendable, Equatable, Hashable {
    // MARK: Core requests

    /// OPEN (3): string filename, uint32 pflags, ATTRS -> HANDLE or STATUS.
    case open(path: String, flags: SFTPOpenFlags, attributes: SFTPAttributes)
    /// CLOSE (4): string handle -> STATUS.
    case close(handle: [UInt8])
    /// READ (5): string handle, uint64 offset, uint32 length -> DATA (possibly short) or STATUS (EOF).
    case read(handle: [UInt8], offset: UInt64, length: UInt32)
    /// WRITE (6): string handle, uint64 offset, string data -> STATUS.
    /// To avoid copying large data into an enum first, see ``SFTPCodec/encodeWriteHeader(id:handle:offset:dataLength:into:)``.
    case write(handle: [UInt8], offset: UInt64, data: [UInt8])
    /// LSTAT (7): string path -> ATTRS (does not follow a final symlink).
    case lstat(path: String)
    /// FSTAT (8): string handle -> ATTRS.
    case fstat(handle: [UInt8])
    /// SETSTAT (9): string path, ATTRS -> STATUS.
    case setstat(path: String, attributes: SFTPAttributes)
    /// FSETSTAT (10): string handle, ATTRS -> STATUS.
    case fsetstat(handle: [UInt8], attributes: SFTPAttributes)
    /// OPENDIR (11): string path -> HANDLE.
    case opendir(path: String)
    /// READDIR (12): string handle -> NAME, or STATUS EOF when the listing is done.
    case readdir(handle: [UInt8])
    /// REMOVE (13): string filename -> STATUS.
    case remove(path: String)
    /// MKDIR (14): string path, ATTRS -> STATUS.
    case mkdir(path: String, attributes: SFTPAttributes)
    /// RMDIR (15): string path -> STATUS.
    case rmdir(path: String)
    /// REALPATH (16): string path -> NAME with one entry.
    case realpath(path: String)
    /// STAT (17): string path -> ATTRS (follows symlinks).
    case stat(path: String)
    /// RENAME (18): string oldpath, string newpath -> STATUS. Fails when newpath exists on
    /// OpenSSH; use ``posixRename(oldPath:newPath:)`` to replace atomically.
    case rename(oldPath: String, newPath: String)
    /// READLINK (19): string path -> NAME with one entry.
    case readlink(path: String)
    /// SYMLINK (20): creates `linkPath` pointing at `targetPath`.
    ///
    /// Wire order: OpenSSH sftp-server reads the two strings the other way round from the
    /// draft (it calls `symlink(first, second)`), so this codec sends **targetPath first, then
    /// linkPath**, which is what OpenSSH (and every server compatible with it) expects.
    case symlink(linkPath: String, targetPath: String)

    // MARK: Extensions (EXTENDED 200, string name, then the fields below)

    /// posix-rename@openssh.com: string oldpath, string newpath -> STATUS (atomic replace).
    case posixRename(oldPath: String, newPath: String)
    /// fsync@openssh.com: string handle -> STATUS.
    case fsync(handle: [UInt8])
    /// hardlink@openssh.com: string oldpath, string newpath -> STATUS.
    case hardlink(oldPath: String, newPath: String)
    /// statvfs@openssh.com: string path -> EXTENDED_REPLY (see ``SFTPStatVFS``).
    case statvfs(path: String)
    /// fstatvfs@openssh.com: string handle -> EXTENDED_REPLY (see ``SFTPStatVFS``).
    case fstatvfs(handle: [UInt8])
    /// limits@openssh.com: no fields -> EXTENDED_REPLY (see ``SFTPLimits``).
    case limits
    /// copy-data: string read-handle, uint64 read-offset, uint64 length (0 = to EOF),
    /// string write-handle, uint64 write-offset -> STATUS. Server-side copy.
    case copyData(readHandle: [UInt8], readOffset: UInt64, length: UInt64, writeHandle: [UInt8], writeOffset: UInt64)
    /// expand-path@openssh.com: string path (may start with `~`) -> NAME with one entry.
    case expandPath(path: String)
    /// lsetstat@openssh.com: string path, ATTRS -> STATUS (does not follow a final symlink).
    case lsetstat(path: String, attributes: SFTPAttributes)
    /// Any other extension: EXTENDED, string name, then `payload` verbatim.
    case extended(name: String, payload: [UInt8])

    // MARK: Escape hatch

    /// A request of packet type `type` whose body after the request id is `body`, verbatim.
    /// For names that are not valid UTF-8 and for requests this enum does not model.
    case raw(type: UInt8, body: [UInt8])

    // MARK: Properties

    /// The server extension this request needs (check it against the VERSION reply's list),
    /// or nil for a core request. For ``raw(type:body:)`` always nil.
    public var extensionName: String? {
        switch self {
        case .posixRename: return SFTPExtensionName.posixRename
        case .fsync: return SFTPExtensionName.fsync
        case .hardlink: return SFTPExtensionName.hardlink
        case .statvfs: return SFTPExtensionName.statvfs
        case .fstatvfs: return SFTPExtensionName.fstatvfs
        case .limits: return SFTPExtensionName.limits
        case .copyData: return SFTPExtensionName.copyData
        case .expandPath: return SFTPExtensionName.expandPath
        case .lsetstat: return SFTPExtensionName.lsetstat
        case let .extended(name, _): return name
        case .open, .close, .read, .write, .lstat, .fstat, .setstat, .fsetstat, .opendir, .readdir,
             .remove, .mkdir, .rmdir, .realpath, .stat, .rename, .readlink, .symlink, .raw:
            return nil
        }
    }

    /// The packet type byte this request is sent with.
    public var packetTypeByte: UInt8 {
        switch self {
        case .open: return SFTPPacketType.open.rawValue
        case .close: return SFTPPacketType.close.rawValue
        case .read: return SFTPPacketType.read.rawValue
        case .write: return SFTPPacketType.write.rawValue
        case .lstat: return SFTPPacketType.lstat.rawValue
        case .fstat: return SFTPPacketType.fstat.rawValue
        case .setstat: return SFTPPacketType.setstat.rawValue
        case .fsetstat: return SFTPPacketType.fsetstat.rawValue
        case .opendir: return SFTPPacketType.opendir.rawValue
        case .readdir: return SFTPPacketType.readdir.rawValue
        case .remove: return SFTPPacketType.remove.rawValue
        case .mkdir: return SFTPPacketType.mkdir.rawValue
        case .rmdir: return SFTPPacketType.rmdir.rawValue
        case .realpath: return SFTPPacketType.realpath.rawValue
        case .stat: return SFTPPacketType.stat.rawValue
        case .rename: return SFTPPacketType.rename.rawValue
        case .readlink: return SFTPPacketType.readlink.rawValue
        case .symlink: return SFTPPacketType.symlink.rawValue
        case .posixRename, .fsync, .hardlink, .statvfs, .fstatvfs, .limits, .copyData, .expandPath,
             .lsetstat, .extended:
            return SFTPPacketType.extended.rawValue
        case let .raw(type, _): return type
        }
    }
}

// MARK: - SFTPOpenFlags

/// The `pflags` of an OPEN request (SSH_FXF_*).
///
/// OpenSSH sftp-server maps them to open(2): read+write -> O_RDWR, `create` -> O_CREAT,
/// `truncate` -> O_TRUNC, `exclusive` -> O_EXCL, `append` -> O_APPEND. `exclusive` is only
/// meaningful together with `create`.
public struct SFTPOpenFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// SSH_FXF_READ: open for reading.
    public static let read = SFTPOpenFlags(rawValue: 0x01)
    /// SSH_FXF_WRITE: open for writing.
    public static let write = SFTPOpenFlags(rawValue: 0x02)
    /// SSH_FXF_APPEND: every write goes to the end of the file.
    public static let append = SFTPOpenFlags(rawValue: 0x04)
    /// SSH_FXF_CREAT: create the file if it does not exist.
    public static let create = SFTPOpenFlags(rawValue: 0x08)
    /// SSH_FXF_TRUNC: truncate an existing file to zero length.
    public static let truncate = SFTPOpenFlags(rawValue: 0x10)
    /// SSH_FXF_EXCL: fail if the file exists (with `create`).
    public static let exclusive = SFTPOpenFlags(rawValue: 0x20)

    /// Write a new file, replacing any old content: write | create | truncate.
    public static let replace: SFTPOpenFlags = [.write, .create, .truncate]
    /// Create a file that must not exist yet: write | create | exclusive.
    public static let createNew: SFTPOpenFlags = [.write, .create, .exclusive]
}
