import ArgumentParser
import Foundation
import Logging
import MuxSSHConfig
import MuxSync
import MuxTransport

/// Turns a destination into an open session and SFTP pool.
struct Connector {
    var options: ConnectionOptions
    var logger: Logger
    /// At most this keepalive interval (ServerAliveInterval), with at most 2 unanswered
    /// keepalives before the session counts as lost: for a background keeper, which must
    /// notice a dead network soon after it sleeps or moves, not a minute later.
    var quickLiveness: Duration?

    /// Resolves `spec.host` through ssh config, connects and opens the SFTP pool.
    func open(_ spec: RemoteSpec) async throws -> SFTPClient {
        let session = try await connect(spec)
        do {
            return try await SFTPClient.open(on: session, channels: options.channels)
        } catch {
            await session.close()
            throw error
        }
    }

    /// Resolves `spec.host` through ssh config and connects (no channel yet).
    func connect(_ spec: RemoteSpec) async throws -> SSHSession {
        var target = try resolve(spec)
        if let quickLiveness {
            target.keepaliveInterval = target.keepaliveInterval > .zero ? min(target.keepaliveInterval, quickLiveness) : quickLiveness
            target.keepaliveCountMax = min(target.keepaliveCountMax, 2)
        }
        logger.info("connecting to \(target.endpoint) (\(spec.host))")
        return try await SSHSession.connect(
            to: target, options: ConnectOptions(passphrase: PassphrasePrompt.terminal()), logger: logger)
    }

    /// What `spec.host` means in ssh config (no network).
    func resolve(_ spec: RemoteSpec) throws -> SSHTarget {
        let (target, warnings) = try SSHTarget.resolve(spec, configFile: options.configFile, acceptNewHostKey: options.acceptNew)
        for warning in warnings { logger.info("\(warning)") }
        return target
    }
}

/// Parses HOST:PATH, with a message that says what is expected.
func parseRemote(_ text: String, what: String) throws -> RemoteSpec {
    do {
        guard let spec = try RemoteSpec.classify(text) else {
            throw ValidationError("\(what) '\(text)' is not a remote location: expected HOST:PATH (e.g. gpu-box:/workspace/proj)")
        }
        return spec
    } catch let error as RemoteSpecError {
        throw ValidationError("\(what): \(error)")
    }
}

/// Prints an error the way every command does and picks the exit code.
func report(_ error: Error) -> ExitCode {
    if let exit = error as? ExitCode { return exit }
    StandardStream.error.write("muxsync: error: \(error)\n")
    return .failure
}
