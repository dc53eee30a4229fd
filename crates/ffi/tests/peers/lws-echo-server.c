/*
 * lws-echo-server PORT [N]
 *
 * A WebSocket echo server on libwebsockets (Debian's 4.1.6), on 127.0.0.1:PORT, any path.
 * Every text and binary message comes back unchanged, with the same fragmentation boundaries
 * lws delivered it in. permessage-deflate is offered through lws's extension table. Prints
 * "listening on 127.0.0.1:PORT" once the socket listens; with N, exits after N connections
 * ended, otherwise on SIGTERM or SIGINT.
 *
 * The echo follows lws's documented server pattern: each received chunk is copied (behind
 * LWS_PRE bytes of headroom) into a per-connection queue, the connection asks for a WRITEABLE
 * callback, and each WRITEABLE callback does one lws_write of one chunk. When PAUSE_AT chunks
 * wait, reading from that connection stops (lws_rx_flow_control) until half of them are sent,
 * and the queue never exceeds MAX_CHUNKS, so memory per connection stays bounded however fast
 * a client sends.
 *
 * It is the libwebsockets column of benches/c-api/run.sh, so it logs only errors.
 */
#include <libwebsockets.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Chunks queued per connection before reading from it pauses (lws_rx_flow_control): 64 chunks
 * of at most rx_buffer_size bytes (lws's default 4096) is 256 KiB, room enough for a bench that
 * keeps many small messages in flight. */
#define PAUSE_AT 64
/* lws still delivers what it has already read, and with permessage-deflate all that one
 * compressed frame inflates to, after reading is paused; the queue grows for that up to this
 * many chunks (16 MiB of 4 KiB chunks), beyond which the connection is dropped. */
#define MAX_CHUNKS 4096

struct chunk {
    unsigned char *buf; /* LWS_PRE bytes of headroom, then the payload */
    size_t len;
    int binary;
    int first;
    int final;
};

struct session {
    struct chunk *queue; /* a ring of cap entries, allocated at the first message */
    unsigned cap;
    unsigned head; /* next chunk to write */
    unsigned count; /* chunks queued */
    int paused; /* rx flow control is off */
};

static volatile sig_atomic_t stopping;
static struct lws_context *context;
static long connections_left = -1; /* -1: no limit */

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
    if (context) {
        lws_cancel_service(context);
    }
}

static void session_drop_all(struct session *s)
{
    while (s->count > 0) {
        free(s->queue[s->head].buf);
        s->queue[s->head].buf = NULL;
        s->head = (s->head + 1) % s->cap;
        s->count--;
    }
    free(s->queue);
    s->queue = NULL;
    s->cap = 0;
}

static int on_receive(struct lws *wsi, struct session *s, const void *in, size_t len)
{
    struct chunk *c;
    if (s->count == s->cap) {
        /* The first message (so a connection that never sends costs only lws's own bytes), or
         * more than lws delivered after the pause: a ring twice the size, oldest first. */
        unsigned cap = s->cap ? s->cap * 2 : PAUSE_AT;
        struct chunk *ring;
        unsigned i;
        if (cap > MAX_CHUNKS) {
            lwsl_err("echo queue over %d chunks\n", MAX_CHUNKS);
            return -1;
        }
        ring = (struct chunk *)calloc(cap, sizeof(struct chunk));
        if (!ring) {
            lwsl_err("out of memory\n");
            return -1;
        }
        for (i = 0; i < s->count; i++) {
            ring[i] = s->queue[(s->head + i) % s->cap];
        }
        free(s->queue);
        s->queue = ring;
        s->cap = cap;
        s->head = 0;
    }
    c = &s->queue[(s->head + s->count) % s->cap];
    c->buf = (unsigned char *)malloc(LWS_PRE + len + 1);
    if (!c->buf) {
        lwsl_err("out of memory\n");
        return -1;
    }
    if (len > 0) {
        memcpy(c->buf + LWS_PRE, in, len);
    }
    c->len = len;
    c->binary = lws_frame_is_binary(wsi);
    c->first = lws_is_first_fragment(wsi);
    c->final = lws_is_final_fragment(wsi);
    s->count++;
    if (s->count >= PAUSE_AT && !s->paused) {
        s->paused = 1;
        lws_rx_flow_control(wsi, 0);
    }
    lws_callback_on_writable(wsi);
    return 0;
}

static int on_writeable(struct lws *wsi, struct session *s)
{
    struct chunk *c;
    int flags;
    int n;
    if (s->count == 0) {
        return 0; /* lws may call unasked */
    }
    c = &s->queue[s->head];
    flags = lws_write_ws_flags(c->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT, c->first, c->final);
    n = lws_write(wsi, c->buf + LWS_PRE, c->len, (enum lws_write_protocol)flags);
    if (n < (int)c->len) {
        lwsl_err("lws_write failed\n");
        return -1;
    }
    free(c->buf);
    c->buf = NULL;
    s->head = (s->head + 1) % s->cap;
    s->count--;
    if (s->paused && s->count < PAUSE_AT / 2) {
        s->paused = 0;
        lws_rx_flow_control(wsi, 1);
    }
    if (s->count > 0) {
        lws_callback_on_writable(wsi);
    }
    return 0;
}

static int callback_echo(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    struct session *s = (struct session *)user;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        memset(s, 0, sizeof(*s));
        break;
    case LWS_CALLBACK_RECEIVE:
        return on_receive(wsi, s, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(wsi, s);
    case LWS_CALLBACK_CLOSED:
        session_drop_all(s);
        if (connections_left > 0 && --connections_left == 0) {
            stopping = 1;
            lws_cancel_service(lws_get_context(wsi));
        }
        break;
    default:
        break;
    }
    return 0;
}

static int parse_long(const char *text, long min, long max, long *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    struct lws_protocols protocols[2];
    struct lws_extension extensions[2];
    struct lws_context_creation_info info;
    struct sigaction sa;
    long port;
    int rc = 0;

    if (argc < 2 || argc > 3 || parse_long(argv[1], 1, 65535, &port) != 0 ||
        (argc == 3 && parse_long(argv[2], 1, 1000000000L, &connections_left) != 0)) {
        fprintf(stderr, "usage: %s PORT [N]\n", argv[0]);
        return 2;
    }

    lws_set_log_level(LLL_ERR, NULL);

    memset(protocols, 0, sizeof(protocols));
    protocols[0].name = "echo";
    protocols[0].callback = callback_echo;
    protocols[0].per_session_data_size = sizeof(struct session);

    memset(extensions, 0, sizeof(extensions));
    extensions[0].name = "permessage-deflate";
    extensions[0].callback = lws_extension_callback_pm_deflate;
    extensions[0].client_offer = "permessage-deflate; client_max_window_bits";

    memset(&info, 0, sizeof(info));
    info.port = (int)port;
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.extensions = extensions;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    context = lws_create_context(&info);
    if (!context) {
        fprintf(stderr, "lws-echo-server: cannot listen on 127.0.0.1:%ld\n", port);
        return 1;
    }
    printf("listening on 127.0.0.1:%ld\n", port);
    fflush(stdout);

    while (!stopping) {
        if (lws_service(context, 0) < 0) {
            rc = 1;
            break;
        }
    }
    lws_context_destroy(context);
    return rc;
}
