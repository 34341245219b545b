import ArgumentParser
import MuxSync
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `muxsync` command: one persistent SSH session, three jobs over it.
@main
struct Muxsync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "muxsync",
        abstract: "Sync a local project to a remote machine over one persistent, multiplexed SSH session.",
        discussion: """
            Destinations are HOST:PATH, where HOST is an alias from your ssh config (~/.ssh/config, \
            or -F FILE) or [user@]hostname. Only a stock OpenSSH server is needed on the remote.

            A project can keep its remote and options in .muxsync.toml at its root; then \
            `muxsync push` and `muxsync pull PATH` need no other arguments.
            """,
        version: MuxsyncVersion.string,
        subcommands: [PushCommand.self, PullCommand.self, WatchCommand.self, ExecCommand.self, ConnectCommand.self,
                      StatusCommand.self, DisconnectCommand.self]
    )

    /// `muxsync exec HOST -- CMD` over a shared session skips ArgumentParser (see ExecFastPath);
    /// every other command line is parsed and run as usual.
    static func main() async {
        if let status = ExecFastPath.run(Array(CommandLine.arguments.dropFirst())) { terminate(status) }
        await main(nil)
    }
}

/// Ends the process with `status` (`exit` inside `Muxsync` means ArgumentParser's).
private func terminate(_ status: Int32) -> Never {
    exit(status)
}
