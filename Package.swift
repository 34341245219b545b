// swift-tools-version:6.0
import PackageDescription

// Module map (see docs/architecture.md):
//   pure logic, no I/O:   MuxSSHConfig, MuxSFTPWire, MuxDelta, MuxIgnore
//   the C boundary + I/O: MuxTransport (libssh2 session thread, channels, SFTP client)
//   sync jobs:            MuxSync (push, pull, watch, project file, state)
//   front ends:           muxsync (CLI), muxsync-lab (private sshd + delaying proxy for demo/bench)
//   test support:         MuxTestSupport (real sshd harness, TCP proxy, seeded generator)

// MARK: Start-up cost (issue #6: `muxsync exec` over a shared session as quick as ssh over a ControlMaster)
// On Linux, libssh2, libcrypto and libxxhash are linked statically: loading, relocating and
// binding them (and the libcrypto libssh2 pulls in) was about 1 ms of every muxsync start,
// more than the rest of `muxsync exec`'s own work (docs/benchmarks.md, exec). It needs their
// .a files (Debian and Ubuntu ship them in the -dev packages). MUXSYNC_DYNAMIC_C_LIBS=1 links
// the shared libraries instead (distributions without static libraries; security updates of
// libssl then reach muxsync without a rebuild).
#if os(Linux)
let staticCLibraries = Context.environment["MUXSYNC_DYNAMIC_C_LIBS"] == nil
#else
let staticCLibraries = false
#endif
// -no-pie (MUXSYNC_NO_PIE=1, release builds on Linux) saves about 1 ms more of every start (its
// ~40 000 relocations need no processing), but then muxsync's own code, and the libssh2 and
// OpenSSL linked into it, sit at fixed addresses: no address randomisation for the code that
// parses what the server sends. So the default stays a position-independent executable.
#if os(Linux)
let muxsyncLinkerSettings: [LinkerSetting] = Context.environment["MUXSYNC_NO_PIE"] != nil
    ? [.unsafeFlags(["-Xlinker", "-no-pie"], .when(platforms: [.linux], configuration: .release))]
    : []
#else
let muxsyncLinkerSettings: [LinkerSetting] = []
#endif

let package = Package(
    name: "muxsync",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "muxsync", targets: ["muxsync"]),
        .executable(name: "muxsync-lab", targets: ["muxsync-lab"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // MARK: C libraries (Debian: libssh2-1-dev, libssl-dev, zlib1g-dev, libxxhash-dev)
        staticCLibraries
            ? .systemLibrary(name: "CLibSSH2", path: "CLibSSH2/static-linux")
            : .systemLibrary(name: "CLibSSH2", path: "CLibSSH2", pkgConfig: "libssh2",
                             providers: [.apt(["libssh2-1-dev"]), .brew(["libssh2"])]),
        .systemLibrary(name: "CZlib", path: "CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        staticCLibraries
            ? .systemLibrary(name: "CXXHash", path: "CXXHash/static-linux")
            : .systemLibrary(name: "CXXHash", path: "CXXHash", pkgConfig: "libxxhash",
                             providers: [.apt(["libxxhash-dev"]), .brew(["xxhash"])]),

        // MARK: Pure logic
        .target(name: "MuxSSHConfig"),
        .target(name: "MuxSFTPWire"),
        .target(name: "MuxDelta", dependencies: ["CXXHash"]),
        .target(name: "MuxIgnore"),

        // MARK: I/O
        .target(name: "MuxTransport", dependencies: [
            "CLibSSH2", "MuxSSHConfig", "MuxSFTPWire",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "MuxSync", dependencies: [
            "MuxSSHConfig", "MuxTransport", "MuxDelta", "MuxIgnore", "CZlib",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "TOMLKit", package: "TOMLKit"),
        ]),

        // MARK: Front ends
        .executableTarget(name: "muxsync", dependencies: [
            "MuxSync", "MuxTransport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], linkerSettings: muxsyncLinkerSettings),
        .executableTarget(name: "muxsync-lab", dependencies: [
            "MuxTestSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "muxsync-delta-bench", dependencies: ["MuxDelta"]),
        .target(name: "MuxTestSupport"),

        // MARK: Tests
        .testTarget(name: "MuxSSHConfigTests", dependencies: ["MuxSSHConfig", "MuxTestSupport"]),
        .testTarget(name: "MuxSFTPWireTests", dependencies: ["MuxSFTPWire", "MuxTestSupport"]),
        .testTarget(name: "MuxDeltaTests", dependencies: ["MuxDelta", "MuxTestSupport"]),
        .testTarget(name: "MuxIgnoreTests", dependencies: ["MuxIgnore", "MuxTestSupport"]),
        .testTarget(name: "MuxTransportTests", dependencies: ["MuxTransport", "MuxTestSupport"]),
        .testTarget(name: "MuxSyncTests", dependencies: ["MuxSync", "MuxTransport", "MuxTestSupport"]),
    ]
)
