// PushPlan: the value types a push plan is made of (options, actions, counters, errors).
// The algorithm that fills them lives in PushPlanner.swift.

// MARK: - Options

/// What a push should compare and whether it may delete.
public struct PushPlanOptions: Sendable {
    /// Compare file content (through the planner's `contentDiffers`) instead of size + mtime.
    public var checksum: Bool
    /// Delete remote entries that do not exist locally (`--delete`).
    public var delete: Bool
    /// Most remote entries a plan may remove (`--max-delete N`); nil is unlimited.
    public var maxDelete: Int?
    /// The same exclusion rule the local scan used, applied to remote paths as
    /// (relative path, isDirectory): an excluded remote entry and everything below it is
    /// neither compared nor deleted (like rsync without --delete-excluded). nil excludes nothing.
    public var isExcluded: (@Sendable (String, Bool) -> Bool)?
    /// What muxsync last wrote to the remote at a relative path (the state store's record),
    /// nil when not known. The quick check uses its ``FileRecord/localVersion`` to see a
    /// same-second, same-size local edit that size + mtime seconds cannot show. nil looks
    /// nothing up (the plain quick check).
    public var lastSent: (@Sendable (String) -> FileRecord?)?

    /// Creates options; the defaults are a plain quick-check push without deletion.
    public init(checksum: Bool = false, delete: Bool = false, maxDelete: Int? = nil,
                isExcluded: (@Sendable (String, Bool) -> Bool)? = nil,
                lastSent: (@Sendable (String) -> FileRecord?)? = nil) {
        self.checksum = checksum
        self.delete = delete
        self.maxDelete = maxDelete
        self.isExcluded = isExcluded
        self.lastSent = lastSent
    }
}

// MARK: - Actions

/// One step of a push, to be executed in plan order. Paths are relative to the remote root.
public enum PushAction: Sendable, Equatable, CustomStringConvertible {
    /// Create a directory. `permissions` always include owner rwx (0o700) so the contents can
    /// be written; the exact bits and mtime follow in a later `setAttributes`.
    case createDirectory(path: String, permissions: UInt32)
    /// Send a file's content, then give it these permission bits and mtime (seconds).
    case upload(path: String, size: UInt64, permissions: UInt32, mtime: Int64)
    /// Create a symbolic link with this exact target (never followed). Symlinks get no
    /// `setAttributes`: SFTP setstat would follow them.
    case createSymlink(path: String, target: String)
    /// Change only metadata; nil leaves that attribute alone.
    case setAttributes(path: String, permissions: UInt32?, mtime: Int64?)
    /// Remove one entry (not recursive: a directory's contents come as earlier deletes).
    case delete(path: String, isDirectory: Bool)

    /// The path the action applies to.
    public var path: String {
        switch self {
        case .createDirectory(let path, _), .upload(let path, _, _, _), .createSymlink(let path, _),
             .setAttributes(let path, _, _), .delete(let path, _):
            return path
        }
    }

    /// A dry-run style line, e.g. "upload src/main.c (1.2 KB)" or "delete old/ (directory)".
    public var description: String {
        switch self {
        case .createDirectory(let path, _):
            return "mkdir \(path)/"
        case .upload(let path, let size, _, _):
            return "upload \(path) (\(HumanFormat.bytes(size)))"
        case .createSymlink(let path, let target):
            return "symlink \(path) -> \(target)"
        case .setAttributes(let path, let permissions, let mtime):
            var what: [String] = []
            if let permissions { what.append("mode " + String(permissions, radix: 8)) }
            if mtime != nil { what.append("mtime") }
            return "set attributes of \(path) (\(what.joined(separator: ", ")))"
        case .delete(let path, let isDirectory):
            return isDirectory ? "delete \(path)/" : "delete \(path)"
        }
    }

    public static func == (lhs: PushAction, rhs: PushAction) -> Bool {
        switch (lhs, rhs) {
        case let (.createDirectory(p1, m1), .createDirectory(p2, m2)):
            return ByteExact.equal(p1, p2) && m1 == m2
        case let (.upload(p1, s1, m1, t1), .upload(p2, s2, m2, t2)):
            return ByteExact.equal(p1, p2) && s1 == s2 && m1 == m2 && t1 == t2
        case let (.createSymlink(p1, t1), .createSymlink(p2, t2)):
            return ByteExact.equal(p1, p2) && ByteExact.equal(t1, t2)
        case let (.setAttributes(p1, m1, t1), .setAttributes(p2, m2, t2)):
            return ByteExact.equal(p1, p2) && m1 == m2 && t1 == t2
        case let (.delete(p1, d1), .delete(p2, d2)):
            return ByteExact.equal(p1, p2) && d1 == d2
        default:
            return false
        }
    }
}

// MARK: - Plan

/// An ordered list of actions plus counters for the summary and dry-run output.
///
/// Order of `actions`: (1) every delete, descendants before their directory; (2) creations,
/// uploads and file attribute changes in local tree order, a directory before its contents;
/// (3) `setAttributes` for directories, deepest first, so a directory's mode and mtime are
/// set after its contents were written. `prelude` runs before all of them.
public struct PushPlan: Sendable, Equatable {
    /// `setAttributes` actions giving owner rwx (mode | 0o700) to existing remote directories
    /// that lack it and will have entries created or deleted (read-only trees such as a Go
    /// module cache). Run them, in order, to completion before `actions`; the final
    /// directory pass in `actions` restores the exact modes. Empty in most plans.
    public var prelude: [PushAction] = []
    /// The actions in execution order.
    public var actions: [PushAction] = []
    /// Files to upload (new + changed).
    public var filesToSend = 0
    /// Of `filesToSend`, files that do not exist remotely as files.
    public var newFiles = 0
    /// Total size of the files to upload.
    public var bytesToSend: UInt64 = 0
    /// Directories to create.
    public var directoriesToCreate = 0
    /// Symlinks to create (new or re-pointed).
    public var symlinksToCreate = 0
    /// `setAttributes` actions (files and directories).
    public var attributeUpdates = 0
    /// All `delete` actions.
    public var deletes = 0
    /// Deletes that only make way for a different kind at the same path (file -> directory,
    /// re-pointed symlink...). `deletes - replacements` is what `maxDelete` limits.
    public var replacements = 0
    /// Local special files (FIFO, socket, device) that are not sent.
    public var skippedSpecial: [String] = []
    /// Whether the remote root directory's own entries change (its mtime should be reset).
    public var rootContentsChange = false

    /// Creates an empty plan.
    public init() {}

    /// Remote entries that will be gone afterwards (deletes that are not replacements).
    public var removals: Int { deletes - replacements }

    /// Whether nothing needs to be done.
    public var isEmpty: Bool { actions.isEmpty && prelude.isEmpty }

    /// `prelude` followed by `actions`: everything in a valid sequential order.
    public var allActions: [PushAction] { prelude + actions }
}

// MARK: - Errors

/// Why a plan was refused.
public enum PushPlanError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `--delete` with a local tree that holds nothing to send.
    case deleteWithEmptySource
    /// More removals than `--max-delete` allows; `sample` holds the first few paths.
    case tooManyDeletes(count: Int, limit: Int, sample: [String])

    public var description: String {
        switch self {
        case .deleteWithEmptySource:
            return "refusing --delete: the local directory is empty (nothing to send), so every remote"
                + " entry would be deleted; check LOCAL_DIR, or run without --delete"
        case let .tooManyDeletes(count, limit, sample):
            let shown = sample.isEmpty ? "" : " (first: " + sample.joined(separator: ", ") + ")"
            return "refusing to delete \(count) remote entr\(count == 1 ? "y" : "ies")\(shown): --max-delete is \(limit);"
                + " check with --dry-run, then rerun with --max-delete \(count)"
                + " (or max_delete = \(count) in .muxsync.toml) if that is intended"
        }
    }
}
