import ArgumentParser
import Foundation
import MuxSSHConfig
import MuxSync
import MuxTransport

/// Runs a command through a session another muxsync process holds, if one
/// holds a session to that host: no TCP connect, key exchange or authentication.
enum SharedClient {
    /// nil when no session is shared for `spec` (the caller connects itself);
    /// else the exit code of the request.
    static func run(_ request: ControlRequest, for spec: RemoteSpec, connector: Connector,
                    quiet: Bool) async throws -> Int32? {
        guard !connector.options.noShared else { return nil }
        let endpoint = try connector.resolve(spec).endpoint
        guard let connection = ControlClient.connect(endpoint: endpoint) else { return nil }
        connector.logger.info("using the session shared by another muxsync process for \(endpoint)")
        let result: Result<Int32, Error> = await Task.detached {
            Result { try relay(request, over: connection, quiet: quiet) }
        }.value
        return try result.get()
    }

    /// Sends `request`, writes the replies to stdout/stderr, and turns Ctrl-C (or TERM) into
    /// an interrupt frame; returns the exit code. Blocks: call from a thread of its own.
    static func relay(_ request: ControlRequest, over connection: ControlConnection, quiet: Bool) throws -> Int32 {
        let stops = StopSignals {
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
