import ArgumentParser
import Foundation
import Logging
import MuxSSHConfig
import MuxSync
import MuxTransport

// MARK: - Keeping the session open for the next command

/// `--persist`: how long push, pull and exec leave their session open in the
/// background after they finish, so that the next one (from any terminal) skips
/// TCP connect, key exchange and authentication, like OpenSSH's ControlPersist.
struct PersistOption: ParsableArguments {
    @Option(name: .customLong("persist"), help: ArgumentHelp(
        "Keep the session open in the background this many seconds after the last use, for the next push, pull or exec "
            + "(default 600, or MUXSYNC_PERSIST, or `persist` in .muxsync.toml; 0: connect for this command only).",
        valueName: "seconds"))
    var seconds: Double?

    mutating func validate() throws {
        if let seconds, !(seconds >= 0 && seconds.isFinite) {
            throw ValidationError("--persist must be 0 or a positive number of seconds (got \(seconds))")
        }
    }

    /// The flag, else MUXSYNC_PERSIST, else the project's `persist`, else 600 s.
    func resolved(project: ProjectConfig?) throws -> Double {
        if let seconds { return seconds }
        if let text = ProcessInfo.processInfo.environment["MUXSYNC_PERSIST"], !text.isEmpty {
            guard let value = Double(text), value >= 0, value.isFinite else {
                throw ValidationError("MUXSYNC_PERSIST must be 0 or a number of seconds (got '\(text)')")
            }
            return value
        }
        return project?.persist ?? SessionKeeper.defaultSeconds
    }
}

/// Starts `muxsync connect --keeper` in the background for a host no process shares
/// a session to yet, and waits until it listens. Any failure (it cannot
/// authenticate without a prompt, an unknown host key, ...) leaves the caller to
/// connect by itself, which then reports the cause as usual.
enum SessionKeeper {
    static let defaultSeconds = 600.0
    /// The role a keeper shows in `muxsync status`; a watch or `muxsync connect` takes its place.
    static let role = ControlRole.keeper

    /// The control connection to a freshly started keeper, or nil (the caller connects itself).
    static func start(for spec: RemoteSpec, target: SSHTarget, seconds: Double, options: ConnectionOptions,
                      logger: Logger) -> ControlConnection? {
        guard seconds > 0 else { return nil }
        let endpoint = target.endpoint, key = target.sharingKey
        let log: String
        do {
            log = String(try ControlSocket.path(for: key).dropLast(".sock".count)) + ".log"
        } catch {
            logger.info("not keeping the session open: \(error)")
            return nil
        }
        let holderSpec = RemoteSpec(user: spec.user, host: spec.host, port: spec.port, path: "")
        var arguments = ["connect", holderSpec.description, "--keeper", "--persist", String(seconds),
                         "--channels", String(options.channels)]
        if let file = options.configFile { arguments += ["-F", absolutePath(file)] }
        if options.acceptNew { arguments.append("--accept-new") }
        let child: DetachedProcess
        do {
            child = try DetachedProcess.spawn(MuxsyncVersion.executablePath, arguments, log: log)
        } catch {
            logger.info("not keeping the session open: \(error)")
            return nil
        }
        logger.info("started a background session for \(endpoint) (pid \(child.pid), idle timeout \(Int(seconds)) s, log \(log))")
        // The keeper listens once it is connected and authenticated: as long as a connect of our own would take.
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            if let connection = ControlClient.connect(key: key) { return connection }
            if child.hasExited() {
                // Lost a race with another keeper (it listens now), or could not connect.
                if let connection = ControlClient.connect(key: key) { return connection }
                logger.info("the background session could not start (see \(log)); connecting directly")
                return nil
            }
            usleep(5_000)
        }
        logger.info("the background session did not start within 120 s (see \(log)); connecting directly")
        kill(child.pid, SIGTERM)
        return nil
    }
}
