// FaultProxyLab: the set-up the network, link, crash and watch fault suites start from: a
// fault lab with a DelayProxy in front of its sshd, the local tree and the remote path of a
// push or a watch, a FaultWatch through that proxy, and the wait until a tree holds what it
// should. Nothing here asserts; the suites do.

import Foundation
import MuxTestSupport

// MARK: - A lab behind a proxy

extension SyncLab {
    /// A fault lab (`faults()`) with a zero-delay proxy in front of its sshd. The caller
    /// stops the proxy: `defer { proxy.stop() }`.
    static func faultsWithProxy() throws -> (lab: SyncLab, proxy: DelayProxy) {
        let lab = try SyncLab.faults()
        return (lab, try lab.makeProxy())
    }

    /// `faultsWithProxy()` with the two trees of a push or a watch: "local" (created) and
    /// "remote" (not yet: the first sync makes it). The caller stops the proxy.
    static func faultsWithProxyAndTrees() throws -> (lab: SyncLab, proxy: DelayProxy, local: String, remote: String) {
        let (lab, proxy) = try faultsWithProxy()
        do {
            return (lab, proxy, try lab.makeDirectory("local"), lab.path("remote"))
        } catch {
            proxy.stop()
            throw error
        }
    }

    /// `path` on the lab host as the CLI names it through `proxy` (`HOST:PATH`, with the host
    /// alias that `makeProxy` added to the lab's ssh config).
    func proxied(_ path: String, via proxy: DelayProxy) -> String {
        "synclab-proxy-\(proxy.port):" + path
    }
}

// MARK: - A watch through the proxy

extension SyncLab {
    /// A FaultWatch of `local` onto `remote` through `proxy`, on the fast keepalive target (a
    /// silent link is declared lost after about 3 s), with its state in "state".
    /// `force`: overwrite remote files that changed since muxsync wrote them (no conflicts).
    func fastKeepaliveWatch(_ local: String, onto remote: String, through proxy: DelayProxy,
                            force: Bool = false) -> FaultWatch {
        let target = fastKeepaliveTarget(port: proxy.port)
        return FaultWatch(local: local, remote: remote, stateDirectory: path("state"), force: force) {
            try await self.connect(target: target)
        }
    }
}

// MARK: - Waiting for a tree

/// Polls (`eventually`) for up to `seconds` until the regular files under `root` (temporaries
/// excluded) are exactly `files`; true as soon as they are.
func eventuallyHolds(_ root: String, _ files: [String: Data], within seconds: Double) async -> Bool {
    await eventually(seconds) { try regularFiles(under: root) == files }
}
