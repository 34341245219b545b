// PushPlanner: compares a local Tree with the remote one and produces the PushPlan that
// makes the remote hold exactly the local tree. Pure: no I/O except through the optional
// `contentDiffers` closure the caller passes for --checksum.

// MARK: - Planner

/// Builds a ``PushPlan`` from a local and a remote ``Tree``.
///
/// Rules:
/// - A local file is uploaded when it is new, or when its size or mtime (whole seconds, the
///   SFTP v3 granularity) differs, or when the remote still holds what muxsync last wrote
///   there but the local file is no longer the version that was sent (its nanosecond mtime
///   or size moved: ``FileRecord/localEditedSinceSent(local:remote:)``, looked up through
///   ``PushPlanOptions/lastSent``); with `checksum`, when its size differs or
///   `contentDiffers(path)` says so (mtime is then only metadata). Otherwise differing
///   permission bits or mtime give a `setAttributes`.
/// - A path whose kind changes (file <-> directory, symlink <-> file, a re-pointed symlink,
///   a remote special file) is deleted first, with everything below it, then re-created.
///   These deletes happen even without `delete`, because the tree must end up identical.
/// - With `delete`, remote entries absent locally are deleted, except below a local path
///   the scan could not read (``Tree/protectedPaths``) or a local special file.
/// - Local special files (FIFO, socket, device) are skipped, listed in `skippedSpecial`.
/// - Symlinks are compared by target only and never get `setAttributes`.
/// - Every directory that was created, whose mode or mtime differs, or whose entries change
///   gets a final `setAttributes` (deepest first), after its contents were written.
/// - An existing remote directory without owner rwx (e.g. 0o555, as in a Go module cache)
///   that gets entries created or deleted is first given owner rwx by a `setAttributes` in
///   ``PushPlan/prelude``; the final pass restores its exact mode.
public enum PushPlanner {
    /// Plans a push of `local` onto `remote` (nil when the remote directory does not exist yet).
    ///
    /// - Parameter contentDiffers: called only with `options.checksum`, only for a path that
    ///   is a file of equal size on both sides; returns whether the contents differ. When
    ///   nil, a checksum plan falls back to the size + mtime quick check.
    /// - Throws: ``PushPlanError`` when `delete` is asked with an empty local tree or when
    ///   more than `maxDelete` remote entries would be removed; whatever `contentDiffers` throws.
    public static func plan(local: Tree, remote: Tree?, options: PushPlanOptions = PushPlanOptions(),
                            contentDiffers: ((String) throws -> Bool)? = nil) throws -> PushPlan {
        if options.delete && local.hasNothingToTransfer { throw PushPlanError.deleteWithEmptySource }

        let remoteEntries = visibleEntries(of: remote, isExcluded: options.isExcluded)
        var remoteByPath: [BytePath: TreeEntry] = [:]
        remoteByPath.reserveCapacity(remoteEntries.count)
        for entry in remoteEntries { remoteByPath[BytePath(entry.path)] = entry }

        // MARK: Kind changes
        var makeWay = Set<BytePath>()
        for entry in local.entries where !entry.isSpecial {
            guard let other = remoteByPath[BytePath(entry.path)] else { continue }
            if !entry.kind.isSameSort(as: other.kind) || (entry.isSymlink && entry.kind != other.kind) {
                makeWay.insert(BytePath(entry.path))
            }
        }

        // MARK: Deletes
        let doomed = selectDeletes(remoteEntries: remoteEntries, local: local, makeWay: makeWay,
                                   deleteExtraneous: options.delete)
        var plan = PushPlan()
        let removals = doomed.filter { !local.contains($0.path) }
        if let limit = options.maxDelete, removals.count > max(0, limit) {
            throw PushPlanError.tooManyDeletes(count: removals.count, limit: max(0, limit),
                                               sample: removals.prefix(5).map(\.path))
        }
        var touched = Set<BytePath>()
        for entry in doomed.reversed() {
            plan.actions.append(.delete(path: entry.path, isDirectory: entry.isDirectory))
            touched.insert(BytePath(entry.parentPath))
        }
        plan.deletes = doomed.count
        plan.replacements = doomed.count - removals.count

        // MARK: Creations and file updates
        var created = Set<BytePath>()
        for entry in local.entries {
            let key = BytePath(entry.path)
            let other = makeWay.contains(key) ? nil : remoteByPath[key]
            switch entry.kind {
            case .special:
                plan.skippedSpecial.append(entry.path)
            case .directory:
                guard other == nil else { continue }
                plan.actions.append(.createDirectory(path: entry.path, permissions: entry.permissions | 0o700))
                plan.directoriesToCreate += 1
                created.insert(key)
                touched.insert(BytePath(entry.parentPath))
            case .symlink(let target):
                guard other == nil else { continue }
                plan.actions.append(.createSymlink(path: entry.path, target: target))
                plan.symlinksToCreate += 1
                touched.insert(BytePath(entry.parentPath))
            case .file:
                if let other {
                    try planExistingFile(entry, remote: other, options: options,
                                         contentDiffers: contentDiffers, plan: &plan, touched: &touched)
                } else {
                    appendUpload(entry, plan: &plan)
                    plan.newFiles += 1
                    touched.insert(BytePath(entry.parentPath))
                }
            }
        }

        // MARK: Unlock read-only remote directories that get written into
        var unlocked = Set<BytePath>()
        var unlocks: [PushAction] = []
        for key in touched.sorted() where !key.string.isEmpty {
            guard let dir = remoteByPath[key], dir.isDirectory, dir.permissions & 0o700 != 0o700 else { continue }
            unlocks.append(.setAttributes(path: key.string, permissions: dir.permissions | 0o700, mtime: nil))
            unlocked.insert(key)
        }
        plan.prelude = unlocks

        // MARK: Directory attributes, deepest first
        for entry in local.entries.reversed() where entry.isDirectory {
            let key = BytePath(entry.path)
            if created.contains(key) {
                // mkdir is subject to the remote umask: always set the exact bits.
                plan.actions.append(.setAttributes(path: entry.path, permissions: entry.permissions, mtime: entry.mtime))
                plan.attributeUpdates += 1
            } else if let other = remoteByPath[key] {
                let mode = (other.permissions != entry.permissions || unlocked.contains(key)) ? entry.permissions : nil
                let time = (other.mtime != entry.mtime || touched.contains(key)) ? entry.mtime : nil
                if mode != nil || time != nil {
                    plan.actions.append(.setAttributes(path: entry.path, permissions: mode, mtime: time))
                    plan.attributeUpdates += 1
                }
            }
        }
        plan.rootContentsChange = touched.contains(BytePath(""))
        return plan
    }

    // MARK: Steps

    /// Remote entries in tree order, without excluded entries and their subtrees.
    static func visibleEntries(of remote: Tree?, isExcluded: (@Sendable (String, Bool) -> Bool)?) -> [TreeEntry] {
        guard let remote else { return [] }
        guard let isExcluded else { return remote.entries }
        var result: [TreeEntry] = []
        result.reserveCapacity(remote.count)
        var excludedDir: String?
        for entry in remote.entries {
            if let dir = excludedDir, ByteExact.isStrictlyInside(entry.path, dir) { continue }
            excludedDir = nil
            if isExcluded(entry.path, entry.isDirectory) {
                if entry.isDirectory { excludedDir = entry.path }
                continue
            }
            result.append(entry)
        }
        return result
    }

    /// Remote entries to delete, in tree order: paths that make way for another kind, all
    /// below such a directory, and (with `deleteExtraneous`) those absent locally.
    static func selectDeletes(remoteEntries: [TreeEntry], local: Tree, makeWay: Set<BytePath>,
                              deleteExtraneous: Bool) -> [TreeEntry] {
        var doomed: [TreeEntry] = []
        var replacedDir: String?
        var leftAlone: String?
        for entry in remoteEntries {
            let path = entry.path
            if let dir = leftAlone, ByteExact.isStrictlyInside(path, dir) { continue }
            leftAlone = nil
            if let dir = replacedDir, ByteExact.isStrictlyInside(path, dir) {
                doomed.append(entry)
                continue
            }
            replacedDir = nil
            if makeWay.contains(BytePath(path)) {
                doomed.append(entry)
                if entry.isDirectory { replacedDir = path }
                continue
            }
            if let mine = local[path] {
                // A local special file: the remote object there is not ours to touch.
                if mine.isSpecial { leftAlone = path }
                continue
            }
            if deleteExtraneous && !local.isProtected(path) {
                doomed.append(entry)
            }
        }
        return doomed
    }

    /// Upload, attributes or nothing for a local file that exists remotely as a file.
    private static func planExistingFile(_ entry: TreeEntry, remote other: TreeEntry, options: PushPlanOptions,
                                         contentDiffers: ((String) throws -> Bool)?,
                                         plan: inout PushPlan, touched: inout Set<BytePath>) throws {
        let sizeDiffers = entry.size != other.size
        let changed: Bool
        if options.checksum, let contentDiffers {
            changed = try sizeDiffers || contentDiffers(entry.path)
        } else {
            changed = sizeDiffers || entry.mtime != other.mtime
                || options.lastSent?(entry.path)?.localEditedSinceSent(local: entry, remote: other) == true
        }
        if changed {
            appendUpload(entry, plan: &plan)
            touched.insert(BytePath(entry.parentPath))
            return
        }
        let mode = entry.permissions != other.permissions ? entry.permissions : nil
        let time = entry.mtime != other.mtime ? entry.mtime : nil
        if mode != nil || time != nil {
            plan.actions.append(.setAttributes(path: entry.path, permissions: mode, mtime: time))
            plan.attributeUpdates += 1
        }
    }

    private static func appendUpload(_ entry: TreeEntry, plan: inout PushPlan) {
        plan.actions.append(.upload(path: entry.path, size: entry.size,
                                    permissions: entry.permissions, mtime: entry.mtime))
        plan.filesToSend += 1
        plan.bytesToSend += entry.size
    }
}
