/*
 * wslay-client URL COUNT
 *
 * A WebSocket client on wslay's event API (Debian's 1.1.1) that checks an echo server. wslay
 * has no handshake, so the client writes the HTTP/1.1 upgrade request itself and checks the
 * 101 response's Sec-WebSocket-Accept (handshake.h). It then drives wslay over a non-blocking
 * socket with poll(): sends COUNT messages one after another, each checked byte for byte
 * against its echo before the next goes out, closes with 1000 and waits for the server's
 * close, whose code must be 1000. Exits 0 only when all of that held.
 *
 * The messages are those of lws-client: message i has size SIZES[i % 6] (empty, 125, 126,
 * 65535, 65536, 1 MiB) and is text for i % 12 < 6, binary otherwise. Messages over 65536 bytes
 * are queued with wslay_event_queue_fragmented_msg, so they go out as several frames.
 */
#include <wslay/wslay.h>

#include "handshake.h"
#include "wslay-fd.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define OVERALL_LIMIT_MS 60000L
#define FRAGMENT_ABOVE 65536

static const size_t SIZES[6] = {0, 125, 126, 65535, 65536, 1048576};

struct client {
    int fd;
    long count;
    long index; /* message sent and awaited */
    int closing; /* close queued */
    int failed;
    unsigned char *expect; /* message index */
    size_t expect_len;
    size_t read_off; /* bytes of a fragmented message handed to wslay */
    char extra[WS_MAX_HEAD]; /* bytes that followed the 101 head */
    size_t extra_len, extra_off;
    uint32_t mask_state;
};

static int message_is_binary(long i)
{
    return (i % 12) >= 6;
}

static void fill_message(long i, unsigned char *p, size_t len)
{
    size_t j;
    if (message_is_binary(i)) {
        for (j = 0; j < len; j++) {
            p[j] = (unsigned char)((j * 131u + (size_t)i * 7u + (j >> 8)) & 0xff);
        }
    } else {
        for (j = 0; j < len; j++) {
            p[j] = (unsigned char)(' ' + (j + (size_t)i) % 95u);
        }
    }
}

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

static int random_bytes(unsigned char *buf, size_t len)
{
    FILE *f = fopen("/dev/urandom", "rb");
    size_t n;
    if (!f) {
        return -1;
    }
    n = fread(buf, 1, len, f);
    fclose(f);
    return n == len ? 0 : -1;
}

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                       void *user)
{
    struct client *c = (struct client *)user;
    (void)flags;
    if (c->extra_off < c->extra_len) {
        size_t take = c->extra_len - c->extra_off;
        if (take > len) {
            take = len;
        }
        memcpy(buf, c->extra + c->extra_off, take);
        c->extra_off += take;
        return (ssize_t)take;
    }
    ssize_t n = wslay_fd_recv(ctx, c->fd, buf, len);
    if (n == 0) {
        fprintf(stderr, "wslay-client: the server closed the TCP connection\n");
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return n;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    struct client *c = (struct client *)user;
    return wslay_fd_send(ctx, c->fd, data, len, flags);
}

static int on_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
    struct client *c = (struct client *)user;
    size_t i;
    (void)ctx;
    /* xorshift32, seeded from /dev/urandom: masks need not be secret against this server. */
    for (i = 0; i < len; i++) {
        c->mask_state ^= c->mask_state << 13;
        c->mask_state ^= c->mask_state >> 17;
        c->mask_state ^= c->mask_state << 5;
        buf[i] = (uint8_t)c->mask_state;
    }
    return 0;
}

static ssize_t read_fragment(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
                             const union wslay_event_msg_source *source, int *eof, void *user)
{
    struct client *c = (struct client *)source->data;
    size_t left = c->expect_len - c->read_off;
    (void)ctx;
    (void)user;
    if (len > left) {
        len = left;
    }
    memcpy(buf, c->expect + c->read_off, len);
    c->read_off += len;
    if (c->read_off == c->expect_len) {
        *eof = 1;
    }
    return (ssize_t)len;
}

/* Queues message c->index, or the close after the last one. */
static int queue_next(wslay_event_context_ptr ctx, struct client *c)
{
    uint8_t opcode;
    int rv;
    if (c->index == c->count) {
        c->closing = 1;
        rv = wslay_event_queue_close(ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
    } else {
        opcode = message_is_binary(c->index) ? WSLAY_BINARY_FRAME : WSLAY_TEXT_FRAME;
        c->expect_len = SIZES[c->index % 6];
        fill_message(c->index, c->expect, c->expect_len);
        if (c->expect_len > FRAGMENT_ABOVE) {
            struct wslay_event_fragmented_msg msg;
            memset(&msg, 0, sizeof(msg));
            msg.opcode = opcode;
            msg.source.data = c;
            msg.read_callback = read_fragment;
            c->read_off = 0;
            rv = wslay_event_queue_fragmented_msg(ctx, &msg);
        } else {
            struct wslay_event_msg msg;
            memset(&msg, 0, sizeof(msg));
            msg.opcode = opcode;
            msg.msg = c->expect;
            msg.msg_length = c->expect_len;
            rv = wslay_event_queue_msg(ctx, &msg);
        }
    }
    if (rv != 0) {
        fprintf(stderr, "wslay-client: queueing message %ld failed (%d)\n", c->index, rv);
        c->failed = 1;
    }
    return rv;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user)
{
    struct client *c = (struct client *)user;
    int binary;
    if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        if (!c->closing) {
            fprintf(stderr, "wslay-client: the server closed first (code %u)\n",
                    (unsigned)arg->status_code);
            c->failed = 1;
        }
        return;
    }
    if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME) {
        return; /* ping (wslay answers it) or pong */
    }
    if (c->closing || c->failed) {
        fprintf(stderr, "wslay-client: a message arrived when none was due\n");
        c->failed = 1;
        return;
    }
    binary = arg->opcode == WSLAY_BINARY_FRAME;
    if (binary != message_is_binary(c->index)) {
        fprintf(stderr, "wslay-client: message %ld: echo came back as the other kind\n", c->index);
        c->failed = 1;
    } else if (arg->msg_length != c->expect_len) {
        fprintf(stderr, "wslay-client: message %ld: echo of %zu bytes, sent %zu\n", c->index,
                arg->msg_length, c->expect_len);
        c->failed = 1;
    } else if (c->expect_len > 0 && memcmp(arg->msg, c->expect, c->expect_len) != 0) {
        fprintf(stderr, "wslay-client: message %ld: echo differs from the message\n", c->index);
        c->failed = 1;
    }
    if (c->failed) {
        wslay_event_queue_close(ctx, WSLAY_CODE_PROTOCOL_ERROR, NULL, 0);
        return;
    }
    c->index++;
    queue_next(ctx, c);
}

static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints, *res, *ai;
    int fd = -1, one = 1;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0) {
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Sends the upgrade request and checks the 101 response; bytes after its head go to
 * c->extra. */
static int handshake(struct client *c, const char *host, const char *port, const char *path)
{
    unsigned char nonce[16];
    char key[25], want[WS_ACCEPT_LEN], req[1024], head[WS_MAX_HEAD];
    const char *v;
    size_t vlen, have = 0, end = 0;
    int n;
    long deadline = now_ms() + 10000;
    if (random_bytes(nonce, sizeof(nonce)) != 0) {
        fprintf(stderr, "wslay-client: cannot read /dev/urandom\n");
        return -1;
    }
    memcpy(&c->mask_state, nonce, sizeof(c->mask_state));
    c->mask_state |= 1u; /* xorshift needs a non-zero state */
    ws_base64(nonce, sizeof(nonce), key);
    ws_accept_for(key, strlen(key), want);
    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                 path, host, port, key);
    if (n < 0 || (size_t)n >= sizeof(req) || send_all(c->fd, req, (size_t)n) != 0) {
        fprintf(stderr, "wslay-client: cannot send the upgrade request\n");
        return -1;
    }
    while (end == 0) {
        struct pollfd p;
        ssize_t got;
        long left = deadline - now_ms();
        if (have == sizeof(head) || left <= 0) {
            fprintf(stderr, "wslay-client: no complete response head\n");
            return -1;
        }
        p.fd = c->fd;
        p.events = POLLIN;
        p.revents = 0;
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
            return -1;
        }
        got = recv(c->fd, head + have, sizeof(head) - have, MSG_DONTWAIT);
        if (got == 0) {
            fprintf(stderr, "wslay-client: the server closed during the handshake\n");
            return -1;
        }
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                continue;
            }
            return -1;
        }
        have += (size_t)got;
        end = ws_head_end(head, have);
    }
    if (end < 12 || memcmp(head, "HTTP/1.1 101", 12) != 0) {
        fprintf(stderr, "wslay-client: expected 101, got: %.*s\n", (int)(end < 40 ? end : 40),
                head);
        return -1;
    }
    if (ws_header(head, end, "Upgrade", &v, &vlen) != 0 || !ws_has_token(v, vlen, "websocket")) {
        fprintf(stderr, "wslay-client: the response lacks Upgrade: websocket\n");
        return -1;
    }
    if (ws_header(head, end, "Connection", &v, &vlen) != 0 || !ws_has_token(v, vlen, "upgrade")) {
        fprintf(stderr, "wslay-client: the response lacks Connection: upgrade\n");
        return -1;
    }
    if (ws_header(head, end, "Sec-WebSocket-Accept", &v, &vlen) != 0 || vlen != strlen(want) ||
        memcmp(v, want, vlen) != 0) {
        fprintf(stderr, "wslay-client: wrong or missing Sec-WebSocket-Accept (want %s)\n", want);
        return -1;
    }
    if (ws_header(head, end, "Sec-WebSocket-Extensions", &v, &vlen) == 0) {
        fprintf(stderr, "wslay-client: the server chose an extension that was not offered\n");
        return -1;
    }
    memcpy(c->extra, head + end, have - end);
    c->extra_len = have - end;
    return 0;
}

int main(int argc, char **argv)
{
    static struct client c;
    struct wslay_event_callbacks cb;
    wslay_event_context_ptr ctx;
    char urlbuf[512];
    const char *host, *port, *path;
    char *end;
    long deadline;
    int ok;

    if (argc != 3) {
        fprintf(stderr, "usage: %s ws://HOST:PORT/PATH COUNT\n", argv[0]);
        return 2;
    }
    c.count = strtol(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || c.count < 0 || c.count > 1000000) {
        fprintf(stderr, "wslay-client: COUNT must be 0 to 1000000\n");
        return 2;
    }
    if (ws_parse_url(argv[1], urlbuf, sizeof(urlbuf), &host, &port, &path) != 0) {
        fprintf(stderr, "wslay-client: URL must look like ws://HOST:PORT/PATH\n");
        return 2;
    }
    c.expect = (unsigned char *)malloc(SIZES[5]);
    if (!c.expect) {
        fprintf(stderr, "wslay-client: out of memory\n");
        return 1;
    }
    c.fd = connect_to(host, port);
    if (c.fd < 0) {
        fprintf(stderr, "wslay-client: cannot connect to %s:%s\n", host, port);
        free(c.expect);
        return 1;
    }
    if (handshake(&c, host, port, path) != 0) {
        close(c.fd);
        free(c.expect);
        return 1;
    }
    fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL, 0) | O_NONBLOCK);

    memset(&cb, 0, sizeof(cb));
    cb.recv_callback = on_recv;
    cb.send_callback = on_send;
    cb.genmask_callback = on_genmask;
    cb.on_msg_recv_callback = on_msg;
    if (wslay_event_context_client_init(&ctx, &cb, &c) != 0) {
        fprintf(stderr, "wslay-client: out of memory\n");
        close(c.fd);
        free(c.expect);
        return 1;
    }
    wslay_event_config_set_max_recv_msg_length(ctx, SIZES[5]);
    queue_next(ctx, &c);

    deadline = now_ms() + OVERALL_LIMIT_MS;
    while (!c.failed && (wslay_event_want_read(ctx) || wslay_event_want_write(ctx))) {
        struct pollfd p;
        long left = deadline - now_ms();
        if (left <= 0) {
            fprintf(stderr, "wslay-client: gave up after %ld ms\n", OVERALL_LIMIT_MS);
            c.failed = 1;
            break;
        }
        p.fd = c.fd;
        p.events = (short)((wslay_event_want_read(ctx) ? POLLIN : 0) |
                           (wslay_event_want_write(ctx) ? POLLOUT : 0));
        p.revents = 0;
        /* Bytes that followed the 101 head are already here: read them without waiting. */
        if (c.extra_off < c.extra_len) {
            p.revents = POLLIN;
        } else if (poll(&p, 1, (int)left) < 0) {
            if (errno == EINTR) {
                continue;
            }
            c.failed = 1;
            break;
        }
        if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && wslay_event_recv(ctx) != 0) {
            fprintf(stderr, "wslay-client: receiving failed after %ld echoes\n", c.index);
            c.failed = 1;
            break;
        }
        if ((p.revents & (POLLOUT | POLLERR)) && wslay_event_send(ctx) != 0) {
            fprintf(stderr, "wslay-client: sending failed after %ld echoes\n", c.index);
            c.failed = 1;
            break;
        }
    }

    ok = !c.failed && c.index == c.count && wslay_event_get_close_received(ctx);
    if (!c.failed && !wslay_event_get_close_received(ctx)) {
        fprintf(stderr, "wslay-client: no close from the server\n");
    } else if (ok && wslay_event_get_status_code_received(ctx) != WSLAY_CODE_NORMAL_CLOSURE) {
        fprintf(stderr, "wslay-client: the server's close had code %u, not 1000\n",
                (unsigned)wslay_event_get_status_code_received(ctx));
        ok = 0;
    }
    wslay_event_context_free(ctx);
    close(c.fd);
    free(c.expect);
    if (!ok) {
        return 1;
    }
    printf("wslay-client: %ld messages echoed, closed with 1000\n", c.count);
    return 0;
}
