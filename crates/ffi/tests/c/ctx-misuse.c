/*
 * ctx-misuse: the batteries-included layer refuses bad calls with the right
 * code and keeps working: NULLs into every function, ids that are closed or
 * never were, a double free, a message over the peer's limit (closed with
 * 1009), empty messages, text that is not UTF-8, an unknown kind, and
 * backpressure on a peer that stops reading. Exits 0 when every check
 * passes, printing a one-line summary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sockeye.h>

static int checks = 0;
static int failures = 0;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        checks++;                                                                       \
        if (!(cond)) {                                                                  \
            failures++;                                                                 \
            fprintf(stderr, "ctx-misuse: %s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                             \
        }                                                                               \
    } while (0)

#define EXPECT(call, code) CHECK((call) == (code))

/* Polls until an event of `type` on `conn` (0: any connection) arrives,
 * echoing every message on accepted connections. Returns 1 with the event
 * in *out, 0 after 10 s without events. */
static int wait_for(sockeye_ctx *ctx, uint64_t conn, uint32_t type, sockeye_event *out)
{
    int idle = 0;
    while (idle < 200) {
        sockeye_event ev;
        sockeye_result rc = sockeye_event_poll(ctx, &ev, 50);
        if (rc == SOCKEYE_ERR_AGAIN) {
            idle++;
            continue;
        }
        if (rc != SOCKEYE_OK) {
            return 0;
        }
        if (ev.listener != 0 && (ev.type == SOCKEYE_EVENT_TEXT || ev.type == SOCKEYE_EVENT_BINARY)) {
            uint32_t kind = ev.type == SOCKEYE_EVENT_TEXT ? SOCKEYE_TEXT : SOCKEYE_BINARY;
            sockeye_send(ctx, ev.conn, kind, ev.data, ev.len, NULL);
        }
        if ((conn == 0 || ev.conn == conn) && ev.type == type) {
            *out = ev;
            return 1;
        }
    }
    return 0;
}

/* Connects a client to the listener on `port`; its id once both ends are
 * open, 0 on failure. *server gets the accepted end's id. */
static uint64_t connect_pair(sockeye_ctx *ctx, uint16_t port, const sockeye_config *config,
                             uint64_t *server)
{
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/misuse", (unsigned)port);
    uint64_t client = 0;
    if (sockeye_ctx_connect(ctx, url, config, &client) != SOCKEYE_OK) {
        return 0;
    }
    int opens = 0;
    while (opens < 2) {
        sockeye_event ev;
        if (!wait_for(ctx, 0, SOCKEYE_EVENT_OPEN, &ev)) {
            return 0;
        }
        if (ev.conn != client) {
            *server = ev.conn;
        }
        opens++;
    }
    return client;
}

static void nulls(sockeye_ctx *ctx)
{
    uint64_t id = 0;
    uint16_t port = 0;
    size_t amount = 0;
    size_t len = 0;
    char buf[16];
    sockeye_event ev;
    const char *addr = "127.0.0.1:0";
    EXPECT(sockeye_ctx_new(1, NULL), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_ctx_free(NULL), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_ctx_listen(NULL, addr, NULL, &id), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_ctx_listen(ctx, NULL, NULL, &id), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_ctx_listen(ctx, addr, NULL, NULL), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_ctx_listen_tls(NULL, addr, "c", "k", NULL, &id), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_ctx_listen_tls(ctx, addr, NULL, "k", NULL, &id), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_ctx_listen_tls(ctx, addr, "c", NULL, NULL, &id), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_ctx_listen_tls(ctx, addr, "c", "k", NULL, NULL), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_ctx_listener_port(NULL, 1, &port), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_ctx_listener_port(ctx, 1, NULL), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_ctx_unlisten(NULL, 1), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_ctx_connect(NULL, "ws://127.0.0.1:1/", NULL, &id), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_ctx_connect(ctx, NULL, NULL, &id), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_ctx_connect(ctx, "ws://127.0.0.1:1/", NULL, NULL), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_event_poll(NULL, &ev, 0), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_event_poll(ctx, NULL, 0), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_ctx_fd(NULL), -1);
    EXPECT(sockeye_send(NULL, 1, SOCKEYE_TEXT, (const uint8_t *)"x", 1, NULL), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_send(ctx, 1, SOCKEYE_TEXT, NULL, 1, NULL), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_buffered_amount(NULL, 1, &amount), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_buffered_amount(ctx, 1, NULL), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_close(NULL, 1, 1000, NULL), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_ctx_last_error(NULL, buf, sizeof buf, &len), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_ctx_last_error(ctx, NULL, sizeof buf, &len), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_ctx_last_error(ctx, buf, sizeof buf, NULL), SOCKEYE_ERR_NULL);
    EXPECT(sockeye_ctx_last_error(ctx, buf, 0, &len), SOCKEYE_ERR_BUFFER_TOO_SMALL);
    EXPECT(sockeye_config_set_ca_file(NULL, "ca.pem"), SOCKEYE_ERR_NULL);
}

static void bad_arguments(sockeye_ctx *ctx, uint64_t client)
{
    uint64_t id = 0;
    sockeye_event ev;
    EXPECT(sockeye_send(ctx, client, SOCKEYE_TEXT, (const uint8_t *)"\xff\xfe", 2, NULL),
           SOCKEYE_ERR_INVALID);
    EXPECT(sockeye_send(ctx, client, 0, (const uint8_t *)"x", 1, NULL), SOCKEYE_ERR_INVALID);
    EXPECT(sockeye_send(ctx, client, 7, (const uint8_t *)"x", 1, NULL), SOCKEYE_ERR_INVALID);
    EXPECT(sockeye_close(ctx, client, 1005, NULL), SOCKEYE_ERR_INVALID);
    EXPECT(sockeye_close(ctx, client, 999, NULL), SOCKEYE_ERR_INVALID);
    EXPECT(sockeye_ctx_connect(ctx, "http://127.0.0.1/", NULL, &id), SOCKEYE_ERR_INVALID);
    EXPECT(sockeye_ctx_connect(ctx, "nonsense", NULL, &id), SOCKEYE_ERR_INVALID);
    CHECK(id == 0);
    EXPECT(sockeye_ctx_listen(ctx, "no port", NULL, &id), SOCKEYE_ERR_INVALID);
    EXPECT(sockeye_ctx_listen_tls(ctx, "127.0.0.1:0", "/nonexistent/cert.pem",
                                  "/nonexistent/key.pem", NULL, &id),
           SOCKEYE_ERR_IO);
    EXPECT(sockeye_event_poll(ctx, &ev, -5), SOCKEYE_ERR_INVALID);
    char message[256];
    size_t len = 0;
    EXPECT(sockeye_ctx_last_error(ctx, message, sizeof message, &len), SOCKEYE_OK);
    /* sockeye_event_poll records no message: the last one is listen_tls's. */
    CHECK(strstr(message, "cert.pem") != NULL);
}

static void empty_messages(sockeye_ctx *ctx, uint64_t client)
{
    sockeye_event ev;
    EXPECT(sockeye_send(ctx, client, SOCKEYE_TEXT, NULL, 0, NULL), SOCKEYE_OK);
    CHECK(wait_for(ctx, client, SOCKEYE_EVENT_TEXT, &ev) && ev.len == 0 && ev.data != NULL);
    EXPECT(sockeye_send(ctx, client, SOCKEYE_BINARY, NULL, 0, NULL), SOCKEYE_OK);
    CHECK(wait_for(ctx, client, SOCKEYE_EVENT_BINARY, &ev) && ev.len == 0);
}

static void too_large(sockeye_ctx *ctx, uint16_t small_port)
{
    uint64_t server = 0;
    uint64_t client = connect_pair(ctx, small_port, NULL, &server);
    CHECK(client != 0);
    static uint8_t big[4096];
    memset(big, 'b', sizeof big);
    EXPECT(sockeye_send(ctx, client, SOCKEYE_BINARY, big, sizeof big, NULL), SOCKEYE_OK);
    /* Both ends end, in either order: the client closed with 1009, the
     * server's end failed with SOCKEYE_ERR_TOO_LARGE. */
    sockeye_event ev;
    int client_closed = 0;
    int server_failed = 0;
    for (int i = 0; i < 200 && !(client_closed && server_failed); i++) {
        if (sockeye_event_poll(ctx, &ev, 50) != SOCKEYE_OK) {
            continue;
        }
        if (ev.conn == client && ev.type == SOCKEYE_EVENT_CLOSE && ev.close_code == 1009) {
            client_closed = 1;
        }
        if (ev.conn == server && ev.type == SOCKEYE_EVENT_ERROR && ev.error == SOCKEYE_ERR_TOO_LARGE) {
            server_failed = 1;
        }
    }
    CHECK(client_closed);
    CHECK(server_failed);
}

static void closed_ids(sockeye_ctx *ctx, uint16_t port)
{
    uint64_t server = 0;
    uint64_t client = connect_pair(ctx, port, NULL, &server);
    CHECK(client != 0);
    EXPECT(sockeye_close(ctx, client, 1000, "bye"), SOCKEYE_OK);
    EXPECT(sockeye_close(ctx, client, 1000, "bye"), SOCKEYE_OK);
    EXPECT(sockeye_send(ctx, client, SOCKEYE_TEXT, (const uint8_t *)"x", 1, NULL),
           SOCKEYE_ERR_CLOSED);
    sockeye_event ev;
    CHECK(wait_for(ctx, client, SOCKEYE_EVENT_CLOSE, &ev) && ev.close_code == 1000);
    CHECK(ev.len == 3 && memcmp(ev.data, "bye", 3) == 0);
    CHECK(wait_for(ctx, server, SOCKEYE_EVENT_CLOSE, &ev) && ev.close_code == 1000);
    size_t amount = 0;
    EXPECT(sockeye_send(ctx, client, SOCKEYE_TEXT, (const uint8_t *)"x", 1, NULL),
           SOCKEYE_ERR_NOT_FOUND);
    EXPECT(sockeye_close(ctx, server, 1000, NULL), SOCKEYE_ERR_NOT_FOUND);
    EXPECT(sockeye_buffered_amount(ctx, server, &amount), SOCKEYE_ERR_NOT_FOUND);
    EXPECT(sockeye_send(ctx, 123456789, SOCKEYE_BINARY, NULL, 0, NULL), SOCKEYE_ERR_NOT_FOUND);
    EXPECT(sockeye_ctx_unlisten(ctx, 123456789), SOCKEYE_ERR_NOT_FOUND);
}

/* The test does not poll while it sends, so the accepting end stops reading
 * once the event queue is at its bound; the sender's buffer then fills up
 * to max_buffered and sends are refused. */
static void backpressure(sockeye_ctx *ctx, uint16_t port)
{
    sockeye_config *config = NULL;
    EXPECT(sockeye_config_new(&config), SOCKEYE_OK);
    EXPECT(sockeye_config_set_max_buffered(config, 256 * 1024), SOCKEYE_OK);
    uint64_t server = 0;
    uint64_t client = connect_pair(ctx, port, config, &server);
    CHECK(client != 0);
    static uint8_t chunk[64 * 1024];
    memset(chunk, 'c', sizeof chunk);
    int refused = 0;
    size_t amount = 0;
    for (int i = 0; i < 20000 && !refused; i++) {
        sockeye_result rc = sockeye_send(ctx, client, SOCKEYE_BINARY, chunk, sizeof chunk, &amount);
        if (rc == SOCKEYE_ERR_BACKPRESSURE) {
            refused = 1;
        } else {
            CHECK(rc == SOCKEYE_OK);
            CHECK(amount <= 256 * 1024 + sizeof chunk);
        }
    }
    CHECK(refused);
    EXPECT(sockeye_buffered_amount(ctx, client, &amount), SOCKEYE_OK);
    CHECK(amount >= 256 * 1024);
    char message[128];
    size_t len = 0;
    EXPECT(sockeye_ctx_last_error(ctx, message, sizeof message, &len), SOCKEYE_OK);
    CHECK(strncmp(message, "SOCKEYE_ERR_BACKPRESSURE", 24) == 0);
    EXPECT(sockeye_close(ctx, client, 1000, NULL), SOCKEYE_OK);
    sockeye_event ev;
    CHECK(wait_for(ctx, client, SOCKEYE_EVENT_CLOSE, &ev));
    sockeye_config_free(config);
}

int main(void)
{
    sockeye_ctx *ctx = NULL;
    if (sockeye_ctx_new(1, &ctx) != SOCKEYE_OK) {
        fprintf(stderr, "ctx-misuse: sockeye_ctx_new failed\n");
        return 1;
    }
    nulls(ctx);

    sockeye_config *small = NULL;
    EXPECT(sockeye_config_new(&small), SOCKEYE_OK);
    EXPECT(sockeye_config_set_max_message_size(small, 1024), SOCKEYE_OK);
    uint64_t listener = 0;
    uint64_t small_listener = 0;
    uint16_t port = 0;
    uint16_t small_port = 0;
    EXPECT(sockeye_ctx_listen(ctx, "127.0.0.1:0", NULL, &listener), SOCKEYE_OK);
    EXPECT(sockeye_ctx_listener_port(ctx, listener, &port), SOCKEYE_OK);
    EXPECT(sockeye_ctx_listen(ctx, "127.0.0.1:0", small, &small_listener), SOCKEYE_OK);
    EXPECT(sockeye_ctx_listener_port(ctx, small_listener, &small_port), SOCKEYE_OK);
    sockeye_config_free(small);

    uint64_t server = 0;
    uint64_t client = connect_pair(ctx, port, NULL, &server);
    CHECK(client != 0);
    bad_arguments(ctx, client);
    empty_messages(ctx, client);
    too_large(ctx, small_port);
    closed_ids(ctx, port);
    backpressure(ctx, port);
    EXPECT(sockeye_ctx_unlisten(ctx, small_listener), SOCKEYE_OK);

    EXPECT(sockeye_ctx_free(ctx), SOCKEYE_OK);
    EXPECT(sockeye_ctx_free(ctx), SOCKEYE_ERR_BAD_HANDLE);

    if (failures) {
        printf("ctx-misuse: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("ctx-misuse: all %d checks passed\n", checks);
    return 0;
}
