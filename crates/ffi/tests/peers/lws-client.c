/*
 * lws-client URL COUNT [deflate]
 *
 * A WebSocket client on libwebsockets (Debian's 4.1.6) that checks an echo server: it connects
 * to URL (ws://HOST:PORT/PATH), sends COUNT messages one after another, each checked byte for
 * byte against its echo before the next goes out, then closes with 1000 and waits for the
 * server's close. Exits 0 only when every echo matched and the close completed.
 *
 * With "deflate" the client offers permessage-deflate (lws's extension, RFC 7692) and requires
 * the server to accept it, so the echoes travel compressed both ways. Then every empty message
 * but the first is sent as one byte instead: lws 4.1.6's permessage-deflate aborts on an
 * assertion ("want to trim out length 0") when it compresses an empty message after others,
 * whoever the server is.
 *
 * Message i has size SIZES[i % 6] (empty, 125, 126, 65535, 65536 and 1 MiB: the edges of the
 * frame header's length encodings) and is text for i % 12 < 6, binary otherwise, so COUNT 12
 * covers every size in both kinds. Text is ASCII; binary covers every byte value. Messages over
 * SEND_CHUNK bytes go out as several frames (lws_write_ws_flags), one per WRITEABLE callback.
 *
 * lws's own close path (lws_close_reason, then returning -1) drops the TCP connection right
 * after sending the Close frame, without waiting for the server's, so the client writes its
 * Close frame (code 1000) with lws_write itself and keeps the connection: the
 * server's Close then arrives as LWS_CALLBACK_WS_PEER_INITIATED_CLOSE, whose payload must
 * carry 1000. A server that does not answer within CLOSE_WAIT_S fails the run.
 */
#include <libwebsockets.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEND_CHUNK 65536
#define CLOSE_WAIT_S 5
/* lws_write's code for a Close frame. lws-write.h leaves it out of enum lws_write_protocol
 * ("handled by lws_close_reason()"), but the gap it leaves is 4, the value lws's own close path
 * writes with, and lws_write frames it as a Close. */
#define WRITE_CLOSE 4
#define OVERALL_LIMIT_S 60

static const size_t SIZES[6] = {0, 125, 126, 65535, 65536, 1048576};

enum phase {
    CONNECTING,
    SENDING,
    AWAITING_ECHO,
    CLOSING,
    CLOSE_SENT,
    CLOSE_ANSWERED,
    DONE,
    FAILED
};

struct state {
    long count; /* messages to send */
    long index; /* message being sent or awaited */
    enum phase phase;
    unsigned char *out; /* LWS_PRE + largest message: what lws_write sends */
    unsigned char *expect; /* the same message, untouched by lws */
    size_t out_len; /* size of message index */
    size_t sent; /* bytes of it written so far */
    unsigned char *in; /* echo being assembled */
    size_t in_len;
    int in_binary;
    int deflate; /* permessage-deflate offered and required */
};

static struct state st;

static int message_is_binary(long i)
{
    return (i % 12) >= 6;
}

/* Fills the payload of message i. */
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

static void start_message(void)
{
    st.out_len = SIZES[st.index % 6];
    if (st.deflate && st.out_len == 0 && st.index > 0) {
        st.out_len = 1; /* see the top of the file */
    }
    st.sent = 0;
    st.in_len = 0;
    fill_message(st.index, st.out + LWS_PRE, st.out_len);
    memcpy(st.expect, st.out + LWS_PRE, st.out_len);
    st.phase = SENDING;
}

static void fail(const char *what)
{
    fprintf(stderr, "lws-client: message %ld: %s\n", st.index, what);
    st.phase = FAILED;
}

static long elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - since->tv_sec) * 1000L + (now.tv_nsec - since->tv_nsec) / 1000000L;
}

static int on_writeable(struct lws *wsi)
{
    size_t n;
    int first, last, flags;
    if (st.phase == CLOSING) {
        unsigned char *close_payload = st.out + LWS_PRE;
        close_payload[0] = (unsigned char)(LWS_CLOSE_STATUS_NORMAL >> 8);
        close_payload[1] = (unsigned char)(LWS_CLOSE_STATUS_NORMAL & 0xff);
        if (lws_write(wsi, close_payload, 2, (enum lws_write_protocol)WRITE_CLOSE) < 2) {
            fail("sending the close failed");
            return -1;
        }
        st.phase = CLOSE_SENT;
        lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_ACK, CLOSE_WAIT_S);
        return 0;
    }
    if (st.phase != SENDING) {
        return 0;
    }
    n = st.out_len - st.sent;
    if (n > SEND_CHUNK) {
        n = SEND_CHUNK;
    }
    first = st.sent == 0;
    last = st.sent + n == st.out_len;
    flags = lws_write_ws_flags(message_is_binary(st.index) ? LWS_WRITE_BINARY : LWS_WRITE_TEXT,
                               first, last);
    /* lws writes the frame header into the LWS_PRE bytes before the chunk: for a later chunk
     * that is the tail of one already sent, so echoes are checked against st.expect. */
    if (lws_write(wsi, st.out + LWS_PRE + st.sent, n, (enum lws_write_protocol)flags) < (int)n) {
        fail("lws_write failed");
        return -1;
    }
    st.sent += n;
    if (last) {
        st.phase = AWAITING_ECHO;
    } else {
        lws_callback_on_writable(wsi);
    }
    return 0;
}

static int on_receive(struct lws *wsi, const void *in, size_t len)
{
    if (st.phase != AWAITING_ECHO && st.phase != SENDING) {
        fail("data arrived while no echo was due");
        return -1;
    }
    if (st.in_len + len > st.out_len) {
        fail("echo longer than the message");
        return -1;
    }
    if (st.in_len == 0) {
        st.in_binary = lws_frame_is_binary(wsi);
    }
    if (len > 0) {
        memcpy(st.in + st.in_len, in, len);
    }
    st.in_len += len;
    if (!lws_is_final_fragment(wsi)) {
        return 0;
    }
    if (st.in_len != st.out_len) {
        fprintf(stderr, "lws-client: message %ld: echo of %zu bytes, sent %zu\n", st.index,
                st.in_len, st.out_len);
        st.phase = FAILED;
        return -1;
    }
    if (st.in_binary != message_is_binary(st.index)) {
        fail("echo came back as the other kind (text/binary)");
        return -1;
    }
    if (st.out_len > 0 && memcmp(st.in, st.expect, st.out_len) != 0) {
        fail("echo differs from the message");
        return -1;
    }
    st.index++;
    if (st.index == st.count) {
        st.phase = CLOSING;
    } else {
        start_message();
    }
    lws_callback_on_writable(wsi);
    return 0;
}

static int callback_client(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len)
{
    (void)user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        fprintf(stderr, "lws-client: connection error: %s\n",
                in ? (const char *)in : "(no detail)");
        st.phase = FAILED;
        lws_cancel_service(lws_get_context(wsi));
        break;
    case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH:
        /* The response's headers are still readable here, not after. */
        if (st.deflate) {
            char ext[256];
            int n = lws_hdr_copy(wsi, ext, sizeof(ext), WSI_TOKEN_EXTENSIONS);
            if (n <= 0 || !strstr(ext, "permessage-deflate")) {
                fail("the server did not accept permessage-deflate");
                return -1;
            }
        }
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (st.count == 0) {
            st.phase = CLOSING;
        } else {
            start_message();
        }
        lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return on_receive(wsi, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
        const unsigned char *p = (const unsigned char *)in;
        unsigned code = len >= 2 ? ((unsigned)p[0] << 8) | p[1] : 0;
        if (st.phase != CLOSE_SENT) {
            fprintf(stderr, "lws-client: the server closed first (code %u)\n", code);
            st.phase = FAILED;
        } else if (code != LWS_CLOSE_STATUS_NORMAL) {
            fprintf(stderr, "lws-client: the server's close had code %u, not 1000\n", code);
            st.phase = FAILED;
        } else {
            st.phase = CLOSE_ANSWERED;
        }
        return -1; /* both Close frames are out: lws drops the connection, sending nothing */
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (st.phase == CLOSE_ANSWERED) {
            st.phase = DONE;
        } else if (st.phase == CLOSE_SENT) {
            fprintf(stderr, "lws-client: no close from the server within %d s\n", CLOSE_WAIT_S);
            st.phase = FAILED;
        } else if (st.phase != FAILED) {
            fail("connection closed before every echo arrived");
        }
        /* Wake lws_service, which would otherwise sleep on until its next timer. */
        lws_cancel_service(lws_get_context(wsi));
        break;
    default:
        break;
    }
    return 0;
}

/* Splits ws://HOST:PORT/PATH: host points into buf, path into url. */
static int parse_url(const char *url, char *buf, size_t cap, const char **host, int *port,
                     const char **path)
{
    char *colon, *slash, *end;
    long p;
    if (strncmp(url, "ws://", 5) != 0 || strlen(url + 5) + 1 > cap) {
        return -1;
    }
    strcpy(buf, url + 5);
    slash = strchr(buf, '/');
    if (slash) {
        *path = url + 5 + (slash - buf);
        *slash = '\0';
    } else {
        *path = "/";
    }
    colon = strchr(buf, ':');
    if (!colon || colon == buf) {
        return -1;
    }
    *colon = '\0';
    p = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || p < 1 || p > 65535) {
        return -1;
    }
    *host = buf;
    *port = (int)p;
    return 0;
}

int main(int argc, char **argv)
{
    struct lws_protocols protocols[2];
    struct lws_context_creation_info info;
    struct lws_client_connect_info ci;
    struct lws_context *context;
    struct timespec started;
    char urlbuf[512];
    const char *host, *path;
    int port;
    long count;
    char *end;

    struct lws_extension extensions[2];

    if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "deflate") != 0)) {
        fprintf(stderr, "usage: %s ws://HOST:PORT/PATH COUNT [deflate]\n", argv[0]);
        return 2;
    }
    count = strtol(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || count < 0 || count > 1000000) {
        fprintf(stderr, "lws-client: COUNT must be 0 to 1000000\n");
        return 2;
    }
    if (parse_url(argv[1], urlbuf, sizeof(urlbuf), &host, &port, &path) != 0) {
        fprintf(stderr, "lws-client: URL must look like ws://HOST:PORT/PATH\n");
        return 2;
    }

    memset(&st, 0, sizeof(st));
    st.count = count;
    st.out = (unsigned char *)malloc(LWS_PRE + SIZES[5]);
    st.expect = (unsigned char *)malloc(SIZES[5]);
    st.in = (unsigned char *)malloc(SIZES[5]);
    if (!st.out || !st.expect || !st.in) {
        fprintf(stderr, "lws-client: out of memory\n");
        return 1;
    }

    lws_set_log_level(LLL_ERR, NULL);
    memset(protocols, 0, sizeof(protocols));
    protocols[0].name = "client";
    protocols[0].callback = callback_client;

    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    memset(extensions, 0, sizeof(extensions));
    if (argc == 4) {
        st.deflate = 1;
        extensions[0].name = "permessage-deflate";
        extensions[0].callback = lws_extension_callback_pm_deflate;
        extensions[0].client_offer = "permessage-deflate; client_max_window_bits";
        info.extensions = extensions;
    }
    context = lws_create_context(&info);
    if (!context) {
        fprintf(stderr, "lws-client: lws_create_context failed\n");
        return 1;
    }

    memset(&ci, 0, sizeof(ci));
    ci.context = context;
    ci.address = host;
    ci.port = port;
    ci.path = path;
    ci.host = host;
    ci.origin = host;
    ci.local_protocol_name = "client";
    st.phase = CONNECTING;
    if (!lws_client_connect_via_info(&ci) && st.phase != FAILED) {
        fprintf(stderr, "lws-client: cannot start connecting to %s\n", argv[1]);
        st.phase = FAILED;
    }

    clock_gettime(CLOCK_MONOTONIC, &started);
    while (st.phase != DONE && st.phase != FAILED) {
        if (lws_service(context, 0) < 0) {
            break;
        }
        if (elapsed_ms(&started) > OVERALL_LIMIT_S * 1000L) {
            fprintf(stderr, "lws-client: gave up after %d s\n", OVERALL_LIMIT_S);
            st.phase = FAILED;
        }
    }
    lws_context_destroy(context);
    free(st.out);
    free(st.expect);
    free(st.in);
    if (st.phase != DONE) {
        return 1;
    }
    printf("lws-client: %ld messages echoed, closed with 1000\n", count);
    return 0;
}
