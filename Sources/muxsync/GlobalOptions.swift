import ArgumentParser
import Foundation
import Logging
import MuxSSHConfig
import MuxSync
import MuxTransport

/// Options every command that connects shares.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .customShort("F"), help: ArgumentHelp("Read this ssh config file instead of ~/.ssh/config.", valueName: "file"))
    var configFile: String?

    @Flag(name: .customLong("accept-new"), help: "Accept and record the host key of a host not yet in known_hosts (never a changed key).")
    var acceptNew = false

    @Option(parsing: .unconditional, help: "SFTP channels to open on the one SSH session (1-16).")
    var channels: Int = 4

    @Flag(name: .shortAndLong, help: "More output: -v for progress details, -vv for debugging.")
    var verbose: Int

    @Flag(name: .shortAndLong, help: "No progress display and no summary; errors only.")
    var quiet = false

    @Flag(help: "Do not use a session shared by a running watch or `muxsync connect`; connect anew.")
    var noShared = false

    mutating func validate() throws {
        guard (1...16).contains(channels) else {
            throw ValidationError("--channels must be between 1 and 16 (got \(channels))")
        }
    }

    /// Sets up swift-log once: warnings by default, info with -v, debug with -vv.
    func makeLogger() -> Logger {
        let level: Logger.Level = verbose >= 2 ? .debug : verbose == 1 ? .info : (quiet ? .error : .notice)
        LoggingBootstrap.once(level: level)
        var logger = Logger(label: "muxsync")
        logger.logLevel = level
        return logger
    }
}

enum LoggingBootstrap {
    nonisolated(unsafe) private static var done = false

    static func once(level: Logger.Level) {
        guard !done else { return }
        done = true
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
