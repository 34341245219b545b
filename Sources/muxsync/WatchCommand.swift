import ArgumentParser

struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Keep HOST:PATH in step with LOCAL_DIR, sending every save within milliseconds (coming soon).",
        discussion: "watch arrives with its own milestone; until then, run `muxsync push` after saving.")

    @Argument(help: ArgumentHelp("The local directory to follow.", valueName: "local-dir"))
    var localDirectory: String?

    @Argument(help: ArgumentHelp("Where it goes: HOST:PATH.", valueName: "host:path"))
    var destination: String?

    func run() async throws {
        print("muxsync watch is not available in this version yet; use `muxsync push` for now.")
        throw ExitCode(2)
    }
}
