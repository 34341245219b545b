import MuxSFTPWire

// MARK: - Typed SFTP operations

extension SFTPChannel {
    // MARK: Attributes

    public func stat(_ path: String) async throws -> SFTPAttributes {
        try attributes(await send(.stat(path: path)), "stat", path)
    }

    public func lstat(_ path: String) async throws -> SFTPAttributes {
        try attributes(await send(.lstat(path: path)), "lstat", path)
    }

    /// lstat that answers nil for a missing path instead of throwing.
    public func lstatIfExists(_ path: String) async throws -> SFTPAttributes? {
        let reply = try await send(.lstat(path: path))
        if case .status(_, let status) = reply, status.code == .noSuchFile { return nil }
        return try attributes(reply, "lstat", path)
    }

    /// stat that answers nil for a missing path instead of throwing.
    public func statIfExists(_ path: String) async throws -> SFTPAttributes? {
        let reply = try await send(.stat(path: path))
        if case .status(_, let status) = reply, status.code == .noSuchFile { return nil }
        return try attributes(reply, "stat", path)
    }

    public func fstat(_ handle: SFTPHandle) async throws -> SFTPAttributes {
        try attributes(await send(.fstat(handle: handle.bytes)), "fstat", handle.path)
    }

    public func setstat(_ path: String, _ attributes: SFTPAttributes) async throws {
        try Self.expectOK(await send(.setstat(path: path, attributes: attributes)), "setstat", path)
    }

    public func fsetstat(_ handle: SFTPHandle, _ attributes: SFTPAttributes) async throws {
        try Self.expectOK(await send(.fsetstat(handle: handle.bytes, attributes: attributes)), "fsetstat", handle.path)
    }

    private func attributes(_ reply: SFTPReply, _ operation: String, _ path: String) throws -> SFTPAttributes {
        if case .attrs(_, let attributes) = reply { return attributes }
        throw Self.failure(reply, operation, path)
    }

    // MARK: Files

    public func open(_ path: String, flags: SFTPOpenFlags, attributes: SFTPAttributes = .empty) async throws -> SFTPHandle {
        let reply = try await send(.open(path: path, flags: flags, attributes: attributes))
        if case .handle(_, let bytes) = reply { return SFTPHandle(bytes: bytes, path: path, channel: self) }
        throw Self.failure(reply, "open", path)
    }

    public func close(_ handle: SFTPHandle) async throws {
        try Self.expectOK(await send(.close(handle: handle.bytes)), "close", handle.path)
    }

    /// Reads up to `length` bytes; nil at end of file. A short read is normal.
    public func read(_ handle: SFTPHandle, offset: UInt64, length: UInt32) async throws -> [UInt8]? {
        let reply = try await send(.read(handle: handle.bytes, offset: offset, length: length))
        switch reply {
        case .data(_, let bytes): return bytes
        case .status(_, let status) where status.code == .eof: return nil
        default: throw Self.failure(reply, "read", handle.path)
        }
    }

    /// fsync@openssh.com; a no-op (returns false) where the server lacks it.
    @discardableResult
    public func fsync(_ handle: SFTPHandle) async throws -> Bool {
        guard supports(SFTPExtensionName.fsync) else { return false }
        try Self.expectOK(await send(.fsync(handle: handle.bytes)), "fsync", handle.path)
        return true
    }

    /// Server-side copy ("copy-data"): no bytes cross the network.
    public func copyData(from source: SFTPHandle, offset: UInt64, length: UInt64,
                         to destination: SFTPHandle, at destinationOffset: UInt64) async throws {
        guard supports(SFTPExtensionName.copyData) else {
            throw TransportError(.sftp, endpoint: session.endpoint, "the server has no copy-data extension",
                                 hint: "OpenSSH 9.0 or later provides it; muxsync falls back to whole-file uploads")
        }
        let reply = try await send(.copyData(readHandle: source.bytes, readOffset: offset, length: length,
                                             writeHandle: destination.bytes, writeOffset: destinationOffset))
        try Self.expectOK(reply, "copy-data", destination.path)
    }

    // MARK: Names

    public func remove(_ path: String) async throws {
        try Self.expectOK(await send(.remove(path: path)), "remove", path)
    }

    public func mkdir(_ path: String, attributes: SFTPAttributes = .empty) async throws {
        try Self.expectOK(await send(.mkdir(path: path, attributes: attributes)), "mkdir", path)
    }

    public func rmdir(_ path: String) async throws {
        try Self.expectOK(await send(.rmdir(path: path)), "rmdir", path)
    }

    /// Atomic replace (posix-rename@openssh.com). Without the extension it falls
    /// back to a plain RENAME after removing the target, which is not atomic.
    public func rename(_ oldPath: String, to newPath: String) async throws {
        if supports(SFTPExtensionName.posixRename) {
            try Self.expectOK(await send(.posixRename(oldPath: oldPath, newPath: newPath)), "rename", oldPath)
            return
        }
        _ = try? await send(.remove(path: newPath))
        try Self.expectOK(await send(.rename(oldPath: oldPath, newPath: newPath)), "rename", oldPath)
    }

    public func symlink(at linkPath: String, pointingTo target: String) async throws {
        try Self.expectOK(await send(.symlink(linkPath: linkPath, targetPath: target)), "symlink", linkPath)
    }

    public func readlink(_ path: String) async throws -> String {
        try singleName(await send(.readlink(path: path)), "readlink", path)
    }

    public func realpath(_ path: String) async throws -> String {
        try singleName(await send(.realpath(path: path)), "realpath", path)
    }

    /// hardlink@openssh.com.
    public func hardlink(_ oldPath: String, to newPath: String) async throws {
        guard supports(SFTPExtensionName.hardlink) else {
            throw TransportError(.sftp, endpoint: session.endpoint, "the server has no hardlink@openssh.com extension")
        }
        try Self.expectOK(await send(.hardlink(oldPath: oldPath, newPath: newPath)), "hardlink", oldPath)
    }

    /// statvfs@openssh.com: free space of the filesystem holding `path`.
    public func statvfs(_ path: String) async throws -> SFTPStatVFS {
        guard supports(SFTPExtensionName.statvfs) else {
            throw TransportError(.sftp, endpoint: session.endpoint, "the server has no statvfs@openssh.com extension")
        }
        let reply = try await send(.statvfs(path: path))
        guard case .extendedReply(_, let payload) = reply else { throw Self.failure(reply, "statvfs", path) }
        return try SFTPStatVFS.decode(payload)
    }

    /// Every entry of a directory except "." and "..". Two READDIRs travel
    /// together (the second usually answers EOF) and the CLOSE is not waited
    /// for: about two round trips per directory.
    public func listDirectory(_ path: String) async throws -> [SFTPNameEntry] {
        let opened = try await send(.opendir(path: path))
        guard case .handle(_, let handle) = opened else { throw Self.failure(opened, "opendir", path) }
        var entries: [SFTPNameEntry] = []
        var failure: Error?
        reading: while true {
            let replies: [SFTPReply]
            do { replies = try await sendBatch([.readdir(handle: handle), .readdir(handle: handle)]) } catch {
                failure = error
                break
            }
            for reply in replies {
                if case .name(_, let batch) = reply {
                    entries += batch.filter { $0.filename != "." && $0.filename != ".." }
                    continue
                }
                if case .status(_, let status) = reply, status.code == .eof { break reading }
                failure = Self.failure(reply, "readdir", path)
                break reading
            }
        }
        let core = self.core
        session.inbox.submit({ _ in core.value.send(.close(handle: handle)) { _ in } }, onFailure: { _ in })
        if let failure { throw failure }
        return entries
    }

    private func singleName(_ reply: SFTPReply, _ operation: String, _ path: String) throws -> String {
        if case .name(_, let entries) = reply, let first = entries.first { return first.filename }
        throw Self.failure(reply, operation, path)
    }
}
