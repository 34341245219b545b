import ArgumentParser
import Foundation
import MuxSSHConfig
import MuxSync

/// Where a command's local root and remote come from: the command line
/// first, then the project's .muxsync.toml.
struct ProjectSettings {
    var localRoot: String
    var remote: RemoteSpec
    var config: ProjectConfig?
    /// A project-relative pull: a directory lands under its own name.
    var directoryAsName = false

    /// push/watch: [LOCAL_DIR] [HOST:PATH].
    static func resolve(localArgument: String?, remoteArgument: String?) throws -> ProjectSettings {
        let config: ProjectConfig?
        if let localArgument {
            guard let kind = PlainFile.kind(of: localArgument) else {
                throw ValidationError("local directory '\(localArgument)' does not exist")
            }
            guard kind == .directory else { throw ValidationError("'\(localArgument)' is not a directory") }
            config = try ProjectConfig.load(directory: localArgument)
        } else {
            config = try ProjectConfig.find(startingAt: FileManager.default.currentDirectoryPath)
        }
        let localRoot = localArgument ?? config?.directory
        guard let localRoot else {
            throw ValidationError("no LOCAL_DIR given and no .muxsync.toml found here or in a parent directory")
        }
        guard let remote = try remoteArgument.map(checkedRemote) ?? config?.remote else {
            throw ValidationError("no HOST:PATH given and \(config.map { $0.file } ?? "no .muxsync.toml") names no remote")
        }
        return ProjectSettings(localRoot: localRoot, remote: remote, config: config)
    }

    /// pull: SOURCE [LOCAL_DIR]; SOURCE is HOST:PATH or, in a project, a relative path.
    static func resolvePull(source: String, localArgument: String?) throws -> ProjectSettings {
        let cwd = FileManager.default.currentDirectoryPath
        if let spec = try? RemoteSpec.classify(source) {
            let config = try ProjectConfig.find(startingAt: cwd)
            let dest = config.flatMap { c in c.pull.dest.map { $0.hasPrefix("/") ? $0 : c.directory + "/" + $0 } }
            return ProjectSettings(localRoot: localArgument ?? dest ?? ".", remote: try checkedRemote(source), config: config)
        }
        guard let config = try ProjectConfig.find(startingAt: cwd), let remoteRoot = config.remote else {
            throw ValidationError("'\(source)' is not HOST:PATH, and no .muxsync.toml with a remote was found to resolve it")
        }
        let relative = source.hasPrefix("./") ? String(source.dropFirst(2)) : source
        var spec = remoteRoot
        spec.path = relative.isEmpty || relative == "." ? remoteRoot.path : remoteRoot.path + "/" + relative
        let parent = PathText.parent(of: relative)
        // [pull] dest is relative to the project root, wherever the command runs.
        let dest = config.pull.dest.map { $0.hasPrefix("/") ? $0 : config.directory + "/" + $0 }
        let localDefault = dest ?? (parent.isEmpty ? config.directory : config.directory + "/" + parent)
        return ProjectSettings(localRoot: localArgument ?? localDefault, remote: spec, config: config,
                               directoryAsName: localArgument == nil && config.pull.dest == nil && !relative.isEmpty && relative != ".")
    }

    /// A HOST:PATH argument that names a tree (`host:` alone is refused: `host:.` is the home).
    static func checkedRemote(_ text: String) throws -> RemoteSpec {
        do {
            return try parseRemote(text, what: "destination").requiringPath()
        } catch let error as RemoteSpecError {
            throw ValidationError("destination: \(error)")
        }
    }
}

/// `path` made absolute against the current directory (a shared session's process has another one).
func absolutePath(_ path: String) -> String {
    path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
}
