import Foundation
import Testing
@testable import MuxSync

/// The hand-written JSON of control messages: round trips, the text other JSON tools write
/// and read, and refusal of malformed input (a control socket is an input like any other).
struct ControlJSONUnitTests {
    @Test func requestsAndRepliesRoundTrip() throws {
        var request = ControlRequest(operation: .push)
        request.arguments = ["sh", "-c", "echo \"$1\" \\ done\n", "it's é 日本 🎉", "\u{1}\u{1f}"]
        request.directory = "/w/a b"
        request.sync = true
        request.localPath = "/l"
        request.remotePath = "/r"
        request.flags = ["delete", "dry-run"]
        request.excludes = ["*.o"]
        request.includes = ["src/**"]
        request.maxDelete = 50
        request.display = ControlDisplay(mode: .tty, columns: 132, prefix: "gpu:/w: ", summary: false)
        #expect(request.build == MuxsyncVersion.buildID, "requests carry the client's build")
        var buffer = ControlFraming.encode(request)
        #expect(try ControlFraming.decode(ControlRequest.self, from: &buffer) == request)
        #expect(buffer.isEmpty)

        let status = SharedSessionStatus(endpoint: "u@h:22", pid: 4242, role: "watch", localRoot: "/l", remoteRoot: nil,
                                         connection: "connected", queue: 3, lastLatencyMilliseconds: 12,
                                         startedAt: 1_764_000_000.25, alias: "gpu")
        let replies: [ControlReply] = [
            .output(.stdout, Array(0...255)), .output(.stderr, []), .line("warning: \"x\"\ttab"), .exit(-3), .exit(130),
            .error("no"), ControlReply(kind: .status, status: status),
            ControlReply(kind: .error, text: "lost", code: ControlReply.sessionLost),
        ]
        for reply in replies {
            var frame = ControlFraming.encode(reply)
            #expect(try ControlFraming.decode(ControlReply.self, from: &frame) == reply)
        }
    }

    @Test func writesJSONThatOtherToolsRead() throws {
        var request = ControlRequest(operation: .exec)
        request.arguments = ["a\"b\\c\nd\u{7}", "é"]
        let object = try #require(try JSONSerialization.jsonObject(with: Data(request.jsonBytes)) as? [String: Any])
        #expect(object["operation"] as? String == "exec")
        #expect(object["arguments"] as? [String] == ["a\"b\\c\nd\u{7}", "é"])
        #expect(object["sync"] as? Bool == false)
        #expect(object["directory"] == nil, "nil fields are left out")
        let reply = try #require(try JSONSerialization.jsonObject(with: Data(ControlReply.output(.stdout, [1, 2, 250]).jsonBytes)) as? [String: Any])
        #expect(reply["bytes"] as? String == Data([1, 2, 250]).base64EncodedString())
    }

    @Test func readsWhatOtherToolsWrite() throws {
        // Spacing, key order, escapes (\/, \u with a surrogate pair), integers written as 0.0e0.
        let text = #" { "kind" : "exit", "code": 3.0e0 , "text": "a\/b \u00e9 \ud83c\udf89" } "#
        let body = Array(text.utf8)
        let length = UInt32(body.count)
        var frame = [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)] + body
        let reply = try #require(try ControlFraming.decode(ControlReply.self, from: &frame))
        #expect(reply == ControlReply(kind: .exit, text: "a/b é 🎉", code: 3))
        // A request as Python's json.dumps writes it (what bench tools send).
        let python = Array(#"{"operation": "exec", "arguments": ["true"], "sync": false, "flags": [], "excludes": [], "includes": []}"#.utf8)
        let request = try ControlRequest(json: ControlJSON.parse(python))
        #expect(request.operation == .exec && request.arguments == ["true"] && !request.sync)
    }

    @Test func refusesMalformedMessages() {
        let bad: [String] = [
            "", "{", "}", "[]", "{\"kind\":\"exit\"", "{\"kind\":\"exit\",}", "{\"kind\":\"nope\"}", "{\"kind\":1}",
            "{\"kind\":\"exit\",\"code\":1.5}", "{\"kind\":\"exit\",\"code\":99999999999}", "{\"kind\":\"exit\"} x",
            "{\"kind\":\"stdout\",\"bytes\":\"***\"}", "{\"kind\":\"line\",\"text\":\"a\u{1}\"}", "{\"kind\":\"line\",\"text\":\"\\ud800\"}",
            "{\"kind\":\"line\",\"text\":\"\\q\"}", "{\"kind\":tru}", "{\"kind\":\"exit\",\"code\":--1}",
            String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
        ]
        for text in bad {
            #expect(throws: ControlError.self, "\(text)") {
                try ControlReply(json: ControlJSON.parse(Array(text.utf8)))
            }
        }
        #expect(throws: ControlError.self) { try ControlJSON.parse([0x22, 0xff, 0x22]) }  // not UTF-8
        #expect(throws: ControlError.self) {
            try ControlRequest(json: ControlJSON.parse(Array(#"{"operation":"exec","arguments":[1]}"#.utf8)))
        }
    }
}
