// ChangeSources: picks the change source for a root.
//
// On Linux: inotify, falling back to polling when inotify cannot be used (no instance left,
// the watch limit too low for the tree at start, or reached later while watching). Elsewhere,
// or when asked (--poll, network file systems): polling.

// MARK: - ChangeSources

/// Factory of change sources.
public enum ChangeSources {
    /// The source for `root`.
    /// - Parameters:
    ///   - root: the local root.
    ///   - filter: its ignore rules (shared with the scanners).
    ///   - forcePolling: poll even where inotify works (network and FUSE file systems, where
    ///     inotify does not see changes made by other machines).
    ///   - pollInterval: pause between polls when polling.
    public static func make(root: String, filter: ExclusionFilter, forcePolling: Bool,
                            pollInterval: Duration) -> ChangeSource {
        #if os(Linux)
        if !forcePolling {
            return AdaptiveChangeSource(root: root, filter: filter, pollInterval: pollInterval)
        }
        #endif
        return PollingWatcher(root: root, filter: filter, interval: pollInterval)
    }
}
