/* wslay's recv and send callbacks over a socket descriptor, shared by the
 * wslay client and server: each retries on EINTR and tells wslay whether a
 * failure is "would block" or final. */
#ifndef SOCKEYE_PEERS_WSLAY_FD_H
#define SOCKEYE_PEERS_WSLAY_FD_H

#include <wslay/wslay.h>

#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Sets wslay's error for a failed recv or send and returns -1. */
static inline ssize_t wslay_fd_failed(wslay_event_context_ptr ctx)
{
    wslay_event_set_error(ctx, errno == EAGAIN || errno == EWOULDBLOCK
                                   ? WSLAY_ERR_WOULDBLOCK
                                   : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

/* Reads up to `len` bytes from `fd`: their count, 0 when the peer closed
 * the connection (wslay's error is then the caller's to set), or -1 with
 * wslay's error set. */
static inline ssize_t wslay_fd_recv(wslay_event_context_ptr ctx, int fd, uint8_t *buf, size_t len)
{
    ssize_t n;
    do {
        n = recv(fd, buf, len, 0);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? wslay_fd_failed(ctx) : n;
}

/* Writes up to `len` bytes to `fd`, corking them when wslay says more
 * follows: their count, or -1 with wslay's error set. */
static inline ssize_t wslay_fd_send(wslay_event_context_ptr ctx, int fd, const uint8_t *data,
                                    size_t len, int flags)
{
    ssize_t n;
    int sflags = MSG_NOSIGNAL;
#ifdef MSG_MORE
    if (flags & WSLAY_MSG_MORE) {
        sflags |= MSG_MORE;
    }
#else
    (void)flags;
#endif
    do {
        n = send(fd, data, len, sflags);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? wslay_fd_failed(ctx) : n;
}

#endif
