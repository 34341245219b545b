#ifndef MUXSYNC_CLIBSSH2_SHIM_H
#define MUXSYNC_CLIBSSH2_SHIM_H

// The whole C boundary of muxsync's SSH layer: libssh2's headers plus a few
// `static inline` helpers so Swift never touches function-like macros or
// needs to cast function pointers to void*. Only Sources/MuxTransport uses it.

#include <string.h>
#include <sys/types.h>
#include <libssh2.h>
#if __has_include(<openssl/crypto.h>)
#include <openssl/crypto.h>
#endif

typedef ssize_t (*muxsync_send_fn)(libssh2_socket_t socket, const void *buffer,
                                    size_t length, int flags, void **abstract);
typedef ssize_t (*muxsync_recv_fn)(libssh2_socket_t socket, void *buffer,
                                    size_t length, int flags, void **abstract);

/// Routes the session's socket I/O through the given functions, so the
/// session can count bytes on the wire and note when the peer last spoke.
static inline void muxsync_set_io_callbacks(LIBSSH2_SESSION *_Nonnull session,
                                            muxsync_send_fn _Nonnull send_fn,
                                            muxsync_recv_fn _Nonnull recv_fn) {
    libssh2_session_callback_set(session, LIBSSH2_CALLBACK_SEND, (void *)send_fn);
    libssh2_session_callback_set(session, LIBSSH2_CALLBACK_RECV, (void *)recv_fn);
}

/// Initialises libcrypto without its exit handler. By default OpenSSL frees its global
/// state in an atexit handler; a process that exits while a session thread still runs
/// libssh2 (a watch stopped during its first sync) then crashed in that thread
/// (RAND_bytes on a freed lock). The operating system frees that memory at exit anyway.
static inline void muxsync_crypto_init_without_exit_handler(void) {
#if defined(OPENSSL_INIT_NO_ATEXIT)
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
#endif
}

/// libssh2_session_init() with an abstract pointer handed back to callbacks.
static inline LIBSSH2_SESSION *_Nullable muxsync_session_init(void *_Nullable abstract) {
    return libssh2_session_init_ex(NULL, NULL, NULL, abstract);
}

/// libssh2_channel_open_session() with an explicit receive window and packet size.
static inline LIBSSH2_CHANNEL *_Nullable muxsync_channel_open(LIBSSH2_SESSION *_Nonnull session,
                                                             unsigned int window,
                                                             unsigned int packet) {
    return libssh2_channel_open_ex(session, "session", sizeof("session") - 1,
                                   window, packet, NULL, 0);
}

static inline int muxsync_error_eagain(void) { return LIBSSH2_ERROR_EAGAIN; }

#endif
