#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MuxSFTPWire
import MuxTransport

// MARK: - --checksum: compare contents, not size and mtime

/// Finds files whose contents differ although their sizes match. A stock
/// sftp-server cannot hash files, so the remote bytes are read back and
/// compared chunk by chunk (stopping at the first difference).
struct ContentComparer: Sendable {
    let client: SFTPClient
    let localRoot: String
    let remoteRoot: String

    func differingFiles(local: Tree, remote: Tree) async throws -> Set<BytePath> {
        let candidates = local.entries.filter { entry in
            guard entry.isFile, let other = remote[entry.path], other.isFile else { return false }
            return other.size == entry.size
        }
        let differing = Locked(Set<BytePath>())
        try await pipelined(candidates, window: 16) { entry in
            if try await differs(entry) { differing.withLock { _ = $0.insert(BytePath(entry.path)) } }
        }
        return differing.withLock { $0 }
    }

    private func differs(_ entry: TreeEntry) async throws -> Bool {
        let localPath = RemotePath.join(localRoot, entry.path)
        let fd = open(localPath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        let channel = client.nextChannel()
        let handle = try await channel.open(RemotePath.join(remoteRoot, entry.path), flags: [.read])
        defer { Task { try? await channel.close(handle) } }
        let chunk = channel.limits.readChunkLength
        var offset: UInt64 = 0
        var localBuffer = [UInt8](repeating: 0, count: Int(chunk))
        while offset < entry.size {
            guard let remote = try await channel.read(handle, offset: offset, length: chunk), !remote.isEmpty else { return true }
            let n = localBuffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, remote.count, off_t(offset)) }
            if n != remote.count { return true }
            if !localBuffer[0..<n].elementsEqual(remote) { return true }
            offset += UInt64(n)
        }
        return false
    }
}
