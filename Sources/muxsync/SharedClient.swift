import ArgumentParser
import Foundation
import MuxSSHConfig
import MuxSync
import MuxTransport

/// Runs a command through a session another muxsync process holds, if one
/// holds a session to that host: no TCP connect, key exchange or authentication.
enum SharedClient {
    /// When no process shares one and `persist` is above 0, a background keeper is
    /// started first (`muxsync connect --keeper`) and the request runs over its session,
    /// which then stays open `persist` seconds for the next command.
    /// nil when no session is shared for `spec` (the caller connects itself);
    /// else the exit code of the request.
    static func run(_ request: ControlRequest, for spec: RemoteSpec, connector: Connector,
                    quiet: Bool, persist: Double) async throws -> Int32? {
        guard !connector.options.noShared else { return nil }
        let target = try connector.resolve(spec)
        let endpoint = target.endpoint
        // A second round only after a keeper of another muxsync build stepped aside (nothing ran).
        for _ in 0..<2 {
            let found = ControlClient.connect(key: target.sharingKey)
            guard let connection = found ?? SessionKeeper.start(for: spec, target: target, seconds: persist,
                                                                options: connector.options, logger: connector.logger)
            else { return nil }
            if found != nil { connector.logger.info("using the session shared by another muxsync process for \(endpoint)") }
            let result: Result<Int32, Error> = await Task.detached {
                Result { try relay(request, over: connection, quiet: quiet) }
            }.value
            do {
                return try result.get()
            } catch let error as SharedSessionError where error.outdated {
                connector.logger.info("replacing the background session of another muxsync build for \(endpoint)")
            } catch let error where request.operation == .push || request.operation == .pull {
                // A push or pull may simply run again; exec may not (the command may have run).
                var lost = (error as? SharedSessionError)?.sessionLost == true
                if case .closed? = error as? ControlError { lost = true }
                guard lost else { throw error }
                connector.logger.notice("the shared session to \(endpoint) was lost (\(error)); connecting directly")
                return nil
            }
        }
        return nil
    }

    /// Sends `request`, writes the replies to stdout/stderr, and turns Ctrl-C (or TERM) into
    /// an interrupt frame; returns the exit code. Blocks: call from a thread of its own.
    /// exec: every Ctrl-C goes to the remote command (INT, TERM, KILL). push and pull: the
    /// first one stops the job in the session's host (it answers "interrupted" once what is in
    /// flight is done or removed), a second one leaves at once.
    static func relay(_ request: ControlRequest, over connection: ControlConnection, quiet: Bool) throws -> Int32 {
        let presses = Locked(0)
        let stops = StopSignals {
            let count = presses.withLock { value -> Int in
                value += 1
                return value
            }
            if count > 1 && request.operation != .exec { exit(130) }
            var interrupt = ControlRequest(operation: .interrupt)
            interrupt.arguments = []
            connection.send(interrupt)
        }
        defer { stops.cancel() }
        return try ControlClient.run(request, over: connection) { reply in
            switch reply.kind {
            case .stdout: StandardStream.output.write(reply.bytes ?? [])
            case .stderr: StandardStream.error.write(reply.bytes ?? [])
            case .line where !quiet: StandardStream.error.write((reply.text ?? "") + "\n")
            default: break
            }
        }
    }
}
