import Testing
@testable import MuxSync

/// The command lines `muxsync exec` serves before ArgumentParser, and the ones it leaves to it.
struct ExecInvocationUnitTests {
    @Test func recognisesThePlainShapes() {
        #expect(ExecInvocation.recognise(["exec", "gpu", "--", "true"])
            == ExecInvocation(host: "gpu", command: ["true"]))
        #expect(ExecInvocation.recognise(["exec", "-F", "/c", "--cwd", "/w", "-q", "gpu:/p", "--", "ls", "-la", "--", "x"])
            == ExecInvocation(configFile: "/c", cwd: "/w", quiet: true, host: "gpu:/p", command: ["ls", "-la", "--", "x"]))
        #expect(ExecInvocation.recognise(["exec", "gpu", "--quiet", "-F", "c", "--", "sh", "-c", "exit 3"])
            == ExecInvocation(configFile: "c", quiet: true, host: "gpu", command: ["sh", "-c", "exit 3"]))
    }

    @Test func leavesEverythingElseToArgumentParser() {
        let others: [[String]] = [
            [], ["push", "gpu", "--", "true"], ["exec"], ["exec", "gpu"], ["exec", "gpu", "--"],
            ["exec", "--", "true"],                                  // no host: the project's remote
            ["exec", "-v", "gpu", "--", "true"], ["exec", "--sync", "gpu", "--", "true"],
            ["exec", "--no-shared", "gpu", "--", "true"], ["exec", "--accept-new", "gpu", "--", "true"],
            ["exec", "--cwd=/w", "gpu", "--", "true"], ["exec", "-Fc", "gpu", "--", "true"],
            ["exec", "-F", "a", "-F", "b", "gpu", "--", "true"], ["exec", "-q", "-q", "gpu", "--", "true"],
            ["exec", "-F", "gpu", "--", "true"],                      // -F takes "gpu": no host left
            ["exec", "-F", "-q", "gpu", "--", "true"], ["exec", "--cwd"],
            ["exec", "a", "b", "--", "true"], ["exec", "gpu", "true"], ["exec", "-h"], ["exec", "--help"],
        ]
        for arguments in others {
            #expect(ExecInvocation.recognise(arguments) == nil, "\(arguments)")
        }
    }
}
