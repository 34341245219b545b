import ArgumentParser
import Dispatch
import Foundation
import MuxTestSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - muxsync-lab proxy

/// Runs the delaying proxy in the foreground.
struct ProxyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Forward 127.0.0.1:LISTEN to a target, delaying each direction, in the foreground.",
        discussion: """
            Every chunk read from one side is written to the other DELAY ms later, in order, without limiting throughput: up to --max-queue-mib per direction and connection may wait, then reading pauses and TCP flow control pushes back on the sender. A round trip through the proxy takes 2 x DELAY more.

            Prints the listening port and writes it to --port-file. With --stats, writes {"up":N,"down":N,"connections":N} (bytes client->server, bytes server->client, connections accepted) every 200 ms and at exit. SIGUSR1 resets the counters. Stops on SIGINT, SIGTERM or SIGHUP, resetting open connections.

            OpenSSH through the proxy must check the sshd's own host key name:
              ssh -F $LAB_SSH_CONFIG -o Port=PROXYPORT -o HostKeyAlias=$LAB_HOST_KEY_ALIAS muxsync-test
            or start `muxsync-lab sshd` with --alias NAME=PROXYPORT and connect to NAME.
            """
    )

    @Option(name: .long, help: ArgumentHelp("Where to forward to.", valueName: "HOST:PORT"))
    var target: String

    @Option(name: .customLong("delay-ms"), help: "One-way delay per direction, in milliseconds.")
    var delayMilliseconds: Double = 25

    @Option(name: .customLong("listen-port"), help: "Port to listen on (0: a free port).")
    var listenPort: UInt16 = 0

    @Option(name: .long, help: ArgumentHelp("Write byte counters as JSON here every 200 ms and at exit.",
                                            valueName: "FILE"))
    var stats: String?

    @Option(name: .customLong("port-file"), help: ArgumentHelp("Write the listening port here.", valueName: "FILE"))
    var portFile: String?

    @Option(name: .customLong("max-queue-mib"), help: "Bytes per direction and connection that may wait, in MiB.")
    var maxQueueMiB: Int = 64

    func validate() throws {
        guard parsedTarget != nil else {
            throw ValidationError("--target expects HOST:PORT with an IPv4 host, e.g. 127.0.0.1:2222; got \"\(target)\"")
        }
        guard delayMilliseconds >= 0, delayMilliseconds <= 60_000 else {
            throw ValidationError("--delay-ms must be between 0 and 60000")
        }
        guard maxQueueMiB > 0 else { throw ValidationError("--max-queue-mib must be positive") }
    }

    private var parsedTarget: (host: String, port: UInt16)? {
        guard let colon = target.lastIndex(of: ":"), let port = UInt16(target[target.index(after: colon)...]),
              port > 0 else { return nil }
        let host = String(target[..<colon])
        return host.isEmpty ? nil : (host, port)
    }

    func run() throws {
        guard let (host, targetPort) = parsedTarget else { throw ExitCode.validationFailure }
        let waiter = SignalWaiter()
        let proxy: DelayProxy
        do {
            proxy = try DelayProxy(targetHost: host, targetPort: targetPort, listenPort: listenPort,
                                   delay: delayMilliseconds / 1000, maxQueuedBytes: maxQueueMiB << 20)
        } catch let error as LabError {
            throw ValidationError(error.description)
        }
        if let portFile { try writeAtomically("\(proxy.port)\n", to: portFile) }
        say("muxsync-lab proxy: 127.0.0.1:\(proxy.port) -> \(host):\(targetPort), \(delayMilliseconds) ms each way")
        say("port: \(proxy.port)")

        let statsPath = stats
        let writeStats: @Sendable () -> Void = {
            guard let statsPath else { return }
            let numbers = proxy.statistics
            let json = "{\"up\":\(numbers.up),\"down\":\(numbers.down),\"connections\":\(numbers.connections)}\n"
            try? writeAtomically(json, to: statsPath)
        }
        writeStats()
        waiter.on(SIGUSR1) {
            proxy.resetCounters()
            writeStats()
        }
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "muxsync-lab.stats"))
        timer.schedule(deadline: .now() + 0.2, repeating: 0.2)
        timer.setEventHandler(handler: writeStats)
        timer.resume()

        let reason = waiter.wait()
        timer.cancel()
        proxy.stop()
        writeStats()
        let numbers = proxy.statistics
        say("muxsync-lab proxy: stopped (\(reason)); up \(numbers.up) B, down \(numbers.down) B, \(numbers.connections) connections")
    }
}
