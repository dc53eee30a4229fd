/*
 * wslay-echo-server PORT [N]
 *
 * A WebSocket echo server on wslay's event API (Debian's 1.1.1), on 127.0.0.1:PORT, any path.
 * wslay has no handshake, so the server reads the HTTP/1.1 upgrade request itself, checks it
 * (GET, Upgrade: websocket, Connection: upgrade, Sec-WebSocket-Version: 13, a 16-byte
 * Sec-WebSocket-Key) and answers 101 with Sec-WebSocket-Accept (handshake.h), or 400 (426 for
 * another version) and closes. No extension is negotiated. Then every text and binary message
 * goes back unchanged; wslay answers pings and closes by itself.
 *
 * One thread, non-blocking sockets, poll() over the listener and up to MAX_CONNS connections.
 * Prints "listening on 127.0.0.1:PORT" once listening; with N, exits after N WebSocket
 * connections ended, otherwise on SIGTERM or SIGINT.
 */
#include <wslay/wslay.h>

#include "handshake.h"
#include "wslay-fd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

/* Connections served at once; more are accepted and closed at once. Enough for the
 * interop scripts and for a small bench; the poll() array is sized by it. */
#define MAX_CONNS 1024
/* Largest message accepted (wslay then closes with 1009): the interop messages go up to 1 MiB. */
#define MAX_MESSAGE (16u << 20)
/* Reading from a connection pauses while this many bytes of echoes wait to be sent, so a client
 * that does not read cannot make the server buffer without bound. */
#define MAX_QUEUED (4u << 20)

enum phase { HANDSHAKE, REFUSING, OPEN };

struct conn {
    int fd;
    enum phase phase;
    char head[WS_MAX_HEAD]; /* request head, then bytes that followed it */
    size_t head_len;
    size_t extra_off, extra_len; /* bytes after the head, fed to wslay first */
    char reply[256]; /* 101 or error response */
    size_t reply_len, reply_off;
    wslay_event_context_ptr ctx;
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                       void *user)
{
    struct conn *c = (struct conn *)user;
    (void)flags;
    if (c->extra_off < c->extra_len) {
        size_t take = c->extra_len - c->extra_off;
        if (take > len) {
            take = len;
        }
        memcpy(buf, c->head + c->extra_off, take);
        c->extra_off += take;
        return (ssize_t)take;
    }
    ssize_t n = wslay_fd_recv(ctx, c->fd, buf, len);
    if (n == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return n;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    struct conn *c = (struct conn *)user;
    return wslay_fd_send(ctx, c->fd, data, len, flags);
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user)
{
    struct wslay_event_msg msg;
    (void)user;
    if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME) {
        return;
    }
    memset(&msg, 0, sizeof(msg));
    msg.opcode = arg->opcode;
    msg.msg = arg->msg;
    msg.msg_length = arg->msg_length;
    /* Copies the payload; fails only once a close is queued, when echoes are moot. */
    wslay_event_queue_msg(ctx, &msg);
}

static void set_reply(struct conn *c, const char *text)
{
    size_t n = strlen(text);
    memcpy(c->reply, text, n);
    c->reply_len = n;
    c->reply_off = 0;
}

/* Checks the complete request head (end bytes) and prepares the reply. */
static void answer(struct conn *c, size_t end)
{
    const char *v;
    size_t vlen;
    char accept[WS_ACCEPT_LEN];
    int n;
    c->phase = REFUSING;
    if (end < 14 || memcmp(c->head, "GET ", 4) != 0) {
        set_reply(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    if (ws_header(c->head, end, "Sec-WebSocket-Version", &v, &vlen) != 0 || vlen != 2 ||
        memcmp(v, "13", 2) != 0) {
        set_reply(c, "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    if (ws_header(c->head, end, "Upgrade", &v, &vlen) != 0 ||
        !ws_has_token(v, vlen, "websocket") ||
        ws_header(c->head, end, "Connection", &v, &vlen) != 0 ||
        !ws_has_token(v, vlen, "upgrade") ||
        ws_header(c->head, end, "Sec-WebSocket-Key", &v, &vlen) != 0 || vlen != 24 ||
        ws_accept_for(v, vlen, accept) != 0) {
        set_reply(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    n = snprintf(c->reply, sizeof(c->reply),
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                 accept);
    c->reply_len = (size_t)n;
    c->reply_off = 0;
    c->extra_off = end;
    c->extra_len = c->head_len;
    c->phase = OPEN;
}

/* Handles readiness on a connection still in its handshake; returns -1 to drop it. */
static int step_handshake(struct conn *c, short revents)
{
    if (c->reply_len == 0 && (revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = recv(c->fd, c->head + c->head_len, sizeof(c->head) - c->head_len, 0);
        size_t end;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            return -1;
        }
        if (n > 0) {
            c->head_len += (size_t)n;
        }
        end = ws_head_end(c->head, c->head_len);
        if (end > 0) {
            answer(c, end);
        } else if (c->head_len == sizeof(c->head)) {
            c->phase = REFUSING;
            set_reply(c, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
                         "Connection: close\r\n\r\n");
        }
    }
    if (c->reply_len > 0 && c->reply_off < c->reply_len) {
        ssize_t n = send(c->fd, c->reply + c->reply_off, c->reply_len - c->reply_off,
                         MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return -1;
        }
        if (n > 0) {
            c->reply_off += (size_t)n;
        }
    }
    if (c->reply_len > 0 && c->reply_off == c->reply_len && c->phase == REFUSING) {
        return -1;
    }
    return 0;
}

static int open_ws(struct conn *c)
{
    struct wslay_event_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.recv_callback = on_recv;
    cb.send_callback = on_send;
    cb.on_msg_recv_callback = on_msg;
    if (wslay_event_context_server_init(&c->ctx, &cb, c) != 0) {
        return -1;
    }
    wslay_event_config_set_max_recv_msg_length(c->ctx, MAX_MESSAGE);
    return 0;
}

/* Handles readiness on an open connection; returns 1 when it has ended, -1 on failure. */
static int step_ws(struct conn *c, short revents)
{
    if ((revents & (POLLIN | POLLHUP | POLLERR)) && wslay_event_recv(c->ctx) != 0) {
        return -1;
    }
    if ((revents & (POLLOUT | POLLERR)) && wslay_event_send(c->ctx) != 0) {
        return -1;
    }
    if (!wslay_event_want_read(c->ctx) && !wslay_event_want_write(c->ctx)) {
        return 1;
    }
    return 0;
}

static short wanted_events(const struct conn *c)
{
    short ev = 0;
    if (c->phase != OPEN || c->reply_off < c->reply_len) {
        if (c->reply_len == 0) {
            ev |= POLLIN;
        }
        if (c->reply_len > 0 && c->reply_off < c->reply_len) {
            ev |= POLLOUT;
        }
        return ev;
    }
    if (wslay_event_want_read(c->ctx) && wslay_event_get_queued_msg_length(c->ctx) < MAX_QUEUED) {
        ev |= POLLIN;
    }
    if (wslay_event_want_write(c->ctx)) {
        ev |= POLLOUT;
    }
    return ev;
}

static void drop(struct conn **conns, size_t i)
{
    struct conn *c = conns[i];
    if (c->ctx) {
        wslay_event_context_free(c->ctx);
    }
    close(c->fd);
    free(c);
    conns[i] = NULL;
}

static int listen_on(long port)
{
    struct sockaddr_in addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 511) != 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
    return fd;
}

static void accept_all(int lfd, struct conn **conns)
{
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        int one = 1;
        size_t i;
        struct conn *c;
        if (fd < 0) {
            return; /* EAGAIN, or a transient error such as ECONNABORTED */
        }
        for (i = 0; i < MAX_CONNS && conns[i]; i++) {
        }
        c = i < MAX_CONNS ? (struct conn *)calloc(1, sizeof(*c)) : NULL;
        if (!c) {
            close(fd);
            continue;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->fd = fd;
        c->phase = HANDSHAKE;
        conns[i] = c;
    }
}

int main(int argc, char **argv)
{
    static struct conn *conns[MAX_CONNS];
    static struct pollfd fds[MAX_CONNS + 1];
    static size_t slot[MAX_CONNS + 1];
    struct sigaction sa;
    long port, left = -1;
    char *end;
    int lfd;
    size_t i, nfds;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s PORT [N]\n", argv[0]);
        return 2;
    }
    port = strtol(argv[1], &end, 10);
    if (*argv[1] == '\0' || *end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "wslay-echo-server: PORT must be 1 to 65535\n");
        return 2;
    }
    if (argc == 3) {
        left = strtol(argv[2], &end, 10);
        if (*argv[2] == '\0' || *end != '\0' || left < 1) {
            fprintf(stderr, "wslay-echo-server: N must be a positive number\n");
            return 2;
        }
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    lfd = listen_on(port);
    if (lfd < 0) {
        fprintf(stderr, "wslay-echo-server: cannot listen on 127.0.0.1:%ld\n", port);
        return 1;
    }
    printf("listening on 127.0.0.1:%ld\n", port);
    fflush(stdout);

    while (!stopping && left != 0) {
        nfds = 0;
        fds[nfds].fd = lfd;
        fds[nfds].events = POLLIN;
        fds[nfds].revents = 0;
        nfds++;
        for (i = 0; i < MAX_CONNS; i++) {
            if (conns[i]) {
                fds[nfds].fd = conns[i]->fd;
                fds[nfds].events = wanted_events(conns[i]);
                fds[nfds].revents = 0;
                slot[nfds] = i;
                nfds++;
            }
        }
        if (poll(fds, (nfds_t)nfds, 1000) < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("wslay-echo-server: poll");
            break;
        }
        for (i = 1; i < nfds; i++) {
            struct conn *c = conns[slot[i]];
            short rev = fds[i].revents;
            int r = 0;
            if (!rev && !(c->phase == OPEN && c->extra_off < c->extra_len)) {
                continue;
            }
            if (c->phase != OPEN || c->reply_off < c->reply_len) {
                r = step_handshake(c, rev);
                if (r == 0 && c->phase == OPEN && c->reply_off == c->reply_len) {
                    r = open_ws(c);
                    if (r == 0 && c->extra_off < c->extra_len) {
                        r = step_ws(c, POLLIN);
                    }
                }
                if (r != 0 && c->phase != OPEN) {
                    drop(conns, slot[i]); /* refused or broken before the upgrade */
                    continue;
                }
            } else {
                r = step_ws(c, rev);
            }
            if (r != 0) {
                drop(conns, slot[i]);
                if (left > 0) {
                    left--;
                }
            }
        }
        if (fds[0].revents & POLLIN) {
            accept_all(lfd, conns);
        }
    }
    for (i = 0; i < MAX_CONNS; i++) {
        if (conns[i]) {
            drop(conns, i);
        }
    }
    close(lfd);
    return 0;
}
