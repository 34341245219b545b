// MARK: - SFTPStatVFS

/// The answer to statvfs@openssh.com / fstatvfs@openssh.com: eleven uint64 in an
/// EXTENDED_REPLY, mirroring `struct statvfs`.
public struct SFTPStatVFS: Sendable, Equatable, Hashable {
    /// File system block size (`f_bsize`).
    public var blockSize: UInt64
    /// Fundamental block size (`f_frsize`); the unit of the block counts.
    public var fragmentSize: UInt64
    /// Total blocks, in `fragmentSize` units (`f_blocks`).
    public var blocks: UInt64
    /// Free blocks (`f_bfree`).
    public var freeBlocks: UInt64
    /// Free blocks available to unprivileged users (`f_bavail`).
    public var availableBlocks: UInt64
    /// Total inodes (`f_files`).
    public var files: UInt64
    /// Free inodes (`f_ffree`).
    public var freeFiles: UInt64
    /// Free inodes available to unprivileged users (`f_favail`).
    public var availableFiles: UInt64
    /// File system id (`f_fsid`).
    public var fileSystemID: UInt64
    /// Mount flags: bit 0 read-only (SSH2_FXE_STATVFS_ST_RDONLY), bit 1 nosuid.
    public var flags: UInt64
    /// Longest file name (`f_namemax`).
    public var maxNameLength: UInt64

    public init(
        blockSize: UInt64, fragmentSize: UInt64, blocks: UInt64, freeBlocks: UInt64, availableBlocks: UInt64,
        files: UInt64, freeFiles: UInt64, availableFiles: UInt64, fileSystemID: UInt64, flags: UInt64,
        maxNameLength: UInt64
    ) {
        self.blockSize = blockSize
        self.fragmentSize = fragmentSize
        self.blocks = blocks
        self.freeBlocks = freeBlocks
        self.availableBlocks = availableBlocks
        self.files = files
        self.freeFiles = freeFiles
        self.availableFiles = availableFiles
        self.fileSystemID = fileSystemID
        self.flags = flags
        self.maxNameLength = maxNameLength
    }

    // MARK: Derived values

    /// The unit of the block counts: `f_frsize`, or `f_bsize` when the server reports 0.
    public var blockUnit: UInt64 { fragmentSize != 0 ? fragmentSize : blockSize }
    /// Bytes an unprivileged user may still write (saturates at `UInt64.max`).
    public var availableBytes: UInt64 { Self.saturatingProduct(availableBlocks, blockUnit) }
    /// Total size of the file system in bytes (saturates at `UInt64.max`).
    public var totalBytes: UInt64 { Self.saturatingProduct(blocks, blockUnit) }
    /// True when mounted read-only.
    public var isReadOnly: Bool { flags & 1 != 0 }
    /// True when mounted nosuid.
    public var isNoSUID: Bool { flags & 2 != 0 }

    private static func saturatingProduct(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? UInt64.max : product
    }

    // MARK: Wire

    private var fields: [UInt64] {
        [blockSize, fragmentSize, blocks, freeBlocks, availableBlocks, files, freeFiles, availableFiles,
         fileSystemID, flags, maxNameLength]
    }

    /// Decodes the EXTENDED_REPLY payload (after the request id). Extra trailing bytes are ignored.
    public static func decode(_ payload: [UInt8]) throws(SFTPWireError) -> SFTPStatVFS {
        let values = try SFTPByteCursor.parse(payload) { (cursor) throws(SFTPWireError) -> [UInt64] in
            var values: [UInt64] = []
            values.reserveCapacity(11)
            for index in 0 ..< 11 { values.append(try cursor.readUInt64("statvfs field \(index + 1) of 11")) }
            return values
        }
        return SFTPStatVFS(
            blockSize: values[0], fragmentSize: values[1], blocks: values[2], freeBlocks: values[3],
            availableBlocks: values[4], files: values[5], freeFiles: values[6], availableFiles: values[7],
            fileSystemID: values[8], flags: values[9], maxNameLength: values[10])
    }

    /// The EXTENDED_REPLY payload (for fakes and tests).
    public var encoded: [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(88)
        for value in fields { SFTPWire.appendUInt64(value, to: &buffer) }
        return buffer
    }
}
