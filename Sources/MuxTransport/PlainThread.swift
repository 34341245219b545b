#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Threads without Foundation

/// Starts detached pthreads. Used instead of Foundation's `Thread` so that the binary does not
/// link Foundation proper (see `PlainLock` for why).
public enum PlainThread {
    /// Which thread: compare with `==` (pthread_equal).
    public struct Identity: Equatable, @unchecked Sendable {
        let thread: pthread_t
        public static func == (a: Identity, b: Identity) -> Bool { pthread_equal(a.thread, b.thread) != 0 }
    }

    /// The calling thread.
    public static var current: Identity { Identity(thread: pthread_self()) }

    /// Runs `body` on a new detached thread named `name` (the system keeps the first 15 bytes).
    /// `stackSize` 0 keeps the system's default. A thread that cannot be created is fatal, as it
    /// is with Foundation's `Thread`: the process is out of resources.
    public static func start(name: String, stackSize: Int = 0, _ body: @escaping @Sendable () -> Void) {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        if stackSize > 0 { pthread_attr_setstacksize(&attributes, stackSize) }
        let context = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
        #if canImport(Glibc)
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attributes, { raw in
            guard let raw else { return nil }
            Unmanaged<Start>.fromOpaque(raw).takeRetainedValue().run()
            return nil
        }, context)
        #else
        var thread: pthread_t?
        let rc = pthread_create(&thread, &attributes, { raw in
            Unmanaged<Start>.fromOpaque(raw).takeRetainedValue().run()
            return nil
        }, context)
        #endif
        if rc != 0 {
            Unmanaged<Start>.fromOpaque(context).release()
            fatalError("cannot start thread \(name): \(String(cString: strerror(rc))) (out of memory or thread limit; see ulimit -u)")
        }
    }

    #if canImport(Glibc)
    /// glibc's pthread_setname_np, which the Glibc module does not export (it needs _GNU_SOURCE).
    private typealias SetName = @convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32
    private static let setName: SetName? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pthread_setname_np")
        .map { unsafeBitCast($0, to: SetName.self) }
    #endif

    /// What a new thread runs: its name, then the body.
    private final class Start {
        let name: String
        let body: @Sendable () -> Void

        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }

        func run() {
            let short = String(decoding: name.utf8.prefix(15), as: UTF8.self)
            #if canImport(Glibc)
            _ = PlainThread.setName?(pthread_self(), short)
            #else
            pthread_setname_np(short)
            #endif
            body()
        }
    }
}
