import ArgumentParser
import MuxSSHConfig
import MuxSync

/// The tree a push or watch works on: LOCAL_DIR, destinations and what to skip.
struct TreeArguments: ParsableArguments {
    @Argument(help: ArgumentHelp("The local directory (default: the project root with .muxsync.toml).", valueName: "local-dir"))
    var localDirectory: String?

    @Argument(help: ArgumentHelp("Where it goes: HOST:PATH, several for several hosts (default: remote from .muxsync.toml).",
                                 valueName: "host:path"))
    var destinations: [String] = []

    @Option(name: .customLong("exclude"), help: ArgumentHelp("Skip paths matching PATTERN (gitignore syntax; repeatable).", valueName: "pattern"))
    var excludes: [String] = []

    @Flag(help: "Do not apply the default ignore list (.git/, __pycache__/, editor swap files...).")
    var noDefaultIgnores = false

    /// The project (command line first, then .muxsync.toml) and every destination.
    func resolve() throws -> (ProjectSettings, [RemoteSpec]) {
        let project = try ProjectSettings.resolve(localArgument: localDirectory, remoteArgument: destinations.first)
        let remotes = destinations.isEmpty ? [project.remote] : try destinations.map(ProjectSettings.checkedRemote)
        return (project, remotes)
    }

    /// The project's excludes followed by the command line's (which win).
    func allExcludes(_ project: ProjectSettings) -> [String] { (project.config?.exclude ?? []) + excludes }

    func filter(_ project: ProjectSettings) -> ExclusionFilter {
        ExclusionFilter(root: project.localRoot, excludes: allExcludes(project), useDefaults: !noDefaultIgnores)
    }
}
