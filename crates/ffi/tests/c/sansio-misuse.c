/*
 * sansio-misuse: the sans-I/O layer's contract under misuse, from C. A
 * client and a server handle talk through memory buffers; every function
 * gets NULLs; double frees, sends before open and after close, oversize
 * and invalid messages, unknown kinds and small output buffers are
 * refused with the documented codes; a held request is refused. Exits 0 when every check passes,
 * printing one summary line; prints each failed check otherwise.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sockeye.h>

static int checks = 0, failures = 0;

#define CHECK(cond)                                                          \
    do {                                                                     \
        checks++;                                                            \
        if (!(cond)) {                                                       \
            failures++;                                                      \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
        }                                                                    \
    } while (0)

#define CHECK_CODE(call, want)                                                   \
    do {                                                                         \
        sockeye_result got_ = (call);                                            \
        checks++;                                                                \
        if (got_ != (want)) {                                                    \
            failures++;                                                          \
            fprintf(stderr, "%s:%d: %s returned %s, wanted %s\n", __FILE__,      \
                    __LINE__, #call, sockeye_result_str((int)got_),              \
                    sockeye_result_str((int)(want)));                            \
        }                                                                        \
    } while (0)

/* Moves all of `from`'s output into `to`. Returns the bytes moved. */
static size_t move_bytes(sockeye_conn *from, sockeye_conn *to) {
    unsigned char buf[700]; /* small on purpose: output crosses calls */
    size_t moved = 0, n = 0;
    for (;;) {
        if (sockeye_conn_take_output(from, buf, sizeof buf, &n) != SOCKEYE_OK || n == 0) break;
        CHECK_CODE(sockeye_conn_feed(to, buf, n), SOCKEYE_OK);
        moved += n;
    }
    return moved;
}

static void pump(sockeye_conn *a, sockeye_conn *b) {
    while (move_bytes(a, b) + move_bytes(b, a) > 0) {
    }
}

/* The next event's type, or 0 with its code in *code. */
static uint32_t next_type(sockeye_conn *conn, sockeye_conn_event *ev, sockeye_result *code) {
    sockeye_result r = sockeye_conn_next_event(conn, ev);
    if (code) *code = r;
    return r == SOCKEYE_OK ? ev->type : 0;
}

static void null_arguments(void) {
    sockeye_conn *conn = NULL;
    sockeye_conn_event ev;
    const uint8_t *data = NULL;
    const char *text = NULL;
    size_t n = 0;
    uint64_t at = 0;
    unsigned char buf[4];

    CHECK_CODE(sockeye_conn_new_server(NULL, NULL), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_new_client(NULL, NULL, "/", &conn), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_new_client(NULL, "h", NULL, &conn), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_new_client(NULL, "h", "/", NULL), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_new_client_url(NULL, NULL, &conn), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_new_client_url(NULL, "ws://h/", NULL), SOCKEYE_ERR_NULL);
    CHECK(conn == NULL);
    CHECK_CODE(sockeye_conn_free(NULL), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_feed(NULL, buf, 1), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_feed_eof(NULL), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_next_event(NULL, &ev), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_send(NULL, SOCKEYE_TEXT, buf, 0), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_ping(NULL, NULL, 0), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_pong(NULL, NULL, 0), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_close(NULL, 1000, NULL), SOCKEYE_ERR_NULL);
    CHECK(sockeye_conn_output_len(NULL) == 0);
    CHECK_CODE(sockeye_conn_take_output(NULL, buf, sizeof buf, &n), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_peek_output(NULL, &data, &n), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_consume_output(NULL, 0), SOCKEYE_ERR_NULL);
    CHECK(sockeye_conn_state(NULL) == SOCKEYE_CONN_FAILED);
    CHECK(!sockeye_conn_should_close_transport(NULL));
    CHECK_CODE(sockeye_conn_next_deadline(NULL, 0, &at), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_on_timeout(NULL, 0), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_request_path(NULL, &text), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_request_header(NULL, "host", &text), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_subprotocol(NULL, &text), SOCKEYE_ERR_NULL);
    CHECK(sockeye_conn_last_error(NULL) != NULL);
    CHECK_CODE(sockeye_conn_hold_request(NULL), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_accept(NULL, NULL), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_refuse(NULL, 404, NULL), SOCKEYE_ERR_NULL);

    /* NULL outputs and buffers on a live handle. */
    CHECK_CODE(sockeye_conn_new_server(NULL, &conn), SOCKEYE_OK);
    CHECK_CODE(sockeye_conn_feed(conn, NULL, 3), SOCKEYE_ERR_NULL);
    CHECK(strlen(sockeye_conn_last_error(conn)) > 0);
    CHECK_CODE(sockeye_conn_feed(conn, NULL, 0), SOCKEYE_OK);
    CHECK_CODE(sockeye_conn_next_event(conn, NULL), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_take_output(conn, buf, sizeof buf, NULL), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_take_output(conn, NULL, 4, &n), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_peek_output(conn, NULL, &n), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_peek_output(conn, &data, NULL), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_next_deadline(conn, 0, NULL), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_request_path(conn, NULL), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_request_header(conn, NULL, &text), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_subprotocol(conn, NULL), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_send(conn, SOCKEYE_BINARY, NULL, 5), SOCKEYE_ERR_NULL);
    CHECK_CODE(sockeye_conn_free(conn), SOCKEYE_OK);
    /* A second free is refused and touches nothing. */
    CHECK_CODE(sockeye_conn_free(conn), SOCKEYE_ERR_BAD_HANDLE);
}

static void bad_urls(void) {
    sockeye_conn *conn = NULL;
    CHECK_CODE(sockeye_conn_new_client_url(NULL, "wss://example.com/", &conn), SOCKEYE_ERR_INVALID);
    CHECK(strstr(sockeye_conn_last_error(NULL), "TLS") != NULL);
    CHECK_CODE(sockeye_conn_new_client_url(NULL, "http://example.com/", &conn), SOCKEYE_ERR_INVALID);
    CHECK_CODE(sockeye_conn_new_client_url(NULL, "not a url", &conn), SOCKEYE_ERR_INVALID);
    CHECK_CODE(sockeye_conn_new_client(NULL, "example.com", "no-slash", &conn), SOCKEYE_ERR_INVALID);
    CHECK(conn == NULL);
}

static void client_and_server(void) {
    sockeye_config *config = NULL;
    sockeye_conn *client = NULL, *server = NULL;
    sockeye_conn_event ev;
    sockeye_result code;
    const char *text = NULL;
    unsigned char small[3];
    size_t n = 0;

    CHECK_CODE(sockeye_config_new(&config), SOCKEYE_OK);
    CHECK_CODE(sockeye_config_set_max_message_size(config, 1000), SOCKEYE_OK);
    CHECK_CODE(sockeye_config_add_subprotocol(config, "chat"), SOCKEYE_OK);
    CHECK_CODE(sockeye_config_set_deflate(config, true), SOCKEYE_OK);
    CHECK_CODE(sockeye_conn_new_client_url(config, "ws://127.0.0.1:9/room?x=1", &client), SOCKEYE_OK);
    CHECK_CODE(sockeye_conn_new_server(config, &server), SOCKEYE_OK);
    CHECK_CODE(sockeye_config_free(config), SOCKEYE_OK);
    if (client == NULL || server == NULL) {
        failures++;
        return;
    }

    /* Before the opening handshake is done. */
    CHECK(sockeye_conn_state(client) == SOCKEYE_CONN_HANDSHAKE);
    CHECK_CODE(sockeye_conn_send(client, SOCKEYE_TEXT, (const uint8_t *)"x", 1), SOCKEYE_ERR_STATE);
    CHECK_CODE(sockeye_conn_close(client, 1000, NULL), SOCKEYE_ERR_STATE);
    CHECK_CODE(sockeye_conn_subprotocol(client, &text), SOCKEYE_ERR_STATE);
    CHECK_CODE(sockeye_conn_next_event(server, &ev), SOCKEYE_ERR_AGAIN);

    /* take_output with a zero-size and a too-small buffer. */
    size_t waiting = sockeye_conn_output_len(client);
    CHECK(waiting > 0);
    CHECK_CODE(sockeye_conn_take_output(client, small, 0, &n), SOCKEYE_ERR_BUFFER_TOO_SMALL);
    CHECK_CODE(sockeye_conn_take_output(client, small, sizeof small, &n), SOCKEYE_OK);
    CHECK(n == 3 && memcmp(small, "GET", 3) == 0);
    CHECK(sockeye_conn_output_len(client) == waiting - 3);
    CHECK_CODE(sockeye_conn_feed(server, small, n), SOCKEYE_OK);
    CHECK_CODE(sockeye_conn_consume_output(client, waiting), SOCKEYE_ERR_INVALID);

    pump(client, server);
    CHECK(next_type(server, &ev, NULL) == SOCKEYE_CONN_EVENT_OPEN);
    CHECK(ev.len == 4 && memcmp(ev.data, "chat", 4) == 0);
    CHECK(next_type(client, &ev, NULL) == SOCKEYE_CONN_EVENT_OPEN);
    CHECK_CODE(sockeye_conn_request_path(server, &text), SOCKEYE_OK);
    CHECK(text != NULL && strcmp(text, "/room?x=1") == 0);
    CHECK_CODE(sockeye_conn_request_header(server, "Host", &text), SOCKEYE_OK);
    CHECK(text != NULL && strcmp(text, "127.0.0.1:9") == 0);
    CHECK_CODE(sockeye_conn_request_header(server, "X-Missing", &text), SOCKEYE_ERR_NOT_FOUND);
    CHECK_CODE(sockeye_conn_subprotocol(client, &text), SOCKEYE_OK);
    CHECK(text != NULL && strcmp(text, "chat") == 0);

    /* An empty message, invalid UTF-8 and unknown kinds. */
    CHECK_CODE(sockeye_conn_send(client, SOCKEYE_TEXT, NULL, 0), SOCKEYE_OK);
    CHECK_CODE(sockeye_conn_send(client, SOCKEYE_BINARY, NULL, 0), SOCKEYE_OK);
    CHECK_CODE(sockeye_conn_send(client, SOCKEYE_TEXT, (const uint8_t *)"\xc3\x28", 2), SOCKEYE_ERR_INVALID);
    CHECK(strstr(sockeye_conn_last_error(client), "UTF-8") != NULL);
    CHECK_CODE(sockeye_conn_send(client, 0, (const uint8_t *)"x", 1), SOCKEYE_ERR_INVALID);
    CHECK_CODE(sockeye_conn_send(client, 99, (const uint8_t *)"x", 1), SOCKEYE_ERR_INVALID);
    uint8_t big_control[126];
    memset(big_control, 'p', sizeof big_control);
    CHECK_CODE(sockeye_conn_ping(client, big_control, sizeof big_control), SOCKEYE_ERR_INVALID);
    CHECK_CODE(sockeye_conn_close(client, 1005, NULL), SOCKEYE_ERR_INVALID);
    CHECK_CODE(sockeye_conn_close(client, 42, NULL), SOCKEYE_ERR_INVALID);
    CHECK_CODE(sockeye_conn_ping(client, (const uint8_t *)"hi", 2), SOCKEYE_OK);
    pump(client, server);
    CHECK(next_type(server, &ev, NULL) == SOCKEYE_CONN_EVENT_TEXT && ev.len == 0 && ev.data != NULL);
    CHECK(next_type(server, &ev, NULL) == SOCKEYE_CONN_EVENT_BINARY && ev.len == 0);
    CHECK(next_type(server, &ev, NULL) == SOCKEYE_CONN_EVENT_PING && ev.len == 2);
    CHECK_CODE(sockeye_conn_next_event(server, &ev), SOCKEYE_ERR_AGAIN);
    pump(client, server);
    CHECK(next_type(client, &ev, NULL) == SOCKEYE_CONN_EVENT_PONG && ev.len == 2);

    /* A message over the server's max_message_size: the server closes with 1009. */
    size_t huge_len = 5000;
    uint8_t *huge = (uint8_t *)malloc(huge_len);
    for (size_t i = 0; i < huge_len; i++) huge[i] = (uint8_t)(i * 7919u >> 3);
    CHECK_CODE(sockeye_conn_send(client, SOCKEYE_BINARY, huge, huge_len), SOCKEYE_OK);
    free(huge);
    move_bytes(client, server);
    CHECK(next_type(server, &ev, &code) == 0 && code == SOCKEYE_ERR_TOO_LARGE);
    CHECK(strstr(sockeye_conn_last_error(server), "1009") != NULL);
    CHECK(sockeye_conn_state(server) == SOCKEYE_CONN_FAILED);
    CHECK_CODE(sockeye_conn_send(server, SOCKEYE_TEXT, (const uint8_t *)"x", 1), SOCKEYE_ERR_CLOSED);
    move_bytes(server, client);
    CHECK(next_type(client, &ev, NULL) == SOCKEYE_CONN_EVENT_CLOSE && ev.close_code == 1009);
    CHECK(sockeye_conn_state(client) == SOCKEYE_CONN_CLOSED);
    /* After close: CLOSED. */
    CHECK_CODE(sockeye_conn_send(client, SOCKEYE_TEXT, (const uint8_t *)"x", 1), SOCKEYE_ERR_CLOSED);
    CHECK_CODE(sockeye_conn_close(client, 1000, NULL), SOCKEYE_ERR_CLOSED);
    pump(client, server);
    CHECK(sockeye_conn_should_close_transport(server));
    CHECK(sockeye_conn_should_close_transport(client));

    CHECK_CODE(sockeye_conn_free(client), SOCKEYE_OK);
    CHECK_CODE(sockeye_conn_free(server), SOCKEYE_OK);
    CHECK_CODE(sockeye_conn_free(client), SOCKEYE_ERR_BAD_HANDLE);
}

/* A server that holds the request and refuses it; the client sees why. */
static void refused_request(void) {
    sockeye_conn *client = NULL, *server = NULL;
    sockeye_conn_event ev;
    sockeye_result code;
    const char *text = NULL;
    CHECK_CODE(sockeye_conn_new_client_url(NULL, "ws://example.com/private", &client), SOCKEYE_OK);
    CHECK_CODE(sockeye_conn_new_server(NULL, &server), SOCKEYE_OK);
    if (client == NULL || server == NULL) {
        failures++;
        return;
    }
    CHECK_CODE(sockeye_conn_hold_request(client), SOCKEYE_ERR_STATE);
    CHECK_CODE(sockeye_conn_hold_request(server), SOCKEYE_OK);
    CHECK_CODE(sockeye_conn_accept(server, NULL), SOCKEYE_ERR_STATE);
    move_bytes(client, server);
    CHECK(next_type(server, &ev, NULL) == SOCKEYE_CONN_EVENT_REQUEST);
    CHECK(ev.len == 8 && memcmp(ev.data, "/private", 8) == 0);
    CHECK_CODE(sockeye_conn_request_header(server, "host", &text), SOCKEYE_OK);
    CHECK(text != NULL && strcmp(text, "example.com") == 0);
    CHECK_CODE(sockeye_conn_accept(server, "not-offered"), SOCKEYE_ERR_INVALID);
    CHECK_CODE(sockeye_conn_refuse(server, 302, NULL), SOCKEYE_ERR_INVALID);
    CHECK_CODE(sockeye_conn_refuse(server, 403, "go away"), SOCKEYE_OK);
    CHECK(sockeye_conn_state(server) == SOCKEYE_CONN_FAILED);
    move_bytes(server, client);
    CHECK(sockeye_conn_should_close_transport(server));
    CHECK(next_type(client, &ev, &code) == 0 && code == SOCKEYE_ERR_HANDSHAKE);
    CHECK(strstr(sockeye_conn_last_error(client), "403") != NULL);
    CHECK_CODE(sockeye_conn_free(client), SOCKEYE_OK);
    CHECK_CODE(sockeye_conn_free(server), SOCKEYE_OK);
}

static void result_names(void) {
    for (int code = 0; code <= SOCKEYE_ERR_STATE; code++) {
        const char *name = sockeye_result_str(code);
        CHECK(name != NULL && strncmp(name, "SOCKEYE_", 8) == 0);
    }
    CHECK(strcmp(sockeye_result_str(-1), "unknown sockeye_result") == 0);
    CHECK(strcmp(sockeye_result_str(1000), "unknown sockeye_result") == 0);
}

int main(void) {
    null_arguments();
    bad_urls();
    client_and_server();
    refused_request();
    result_names();
    if (failures > 0) {
        fprintf(stderr, "sansio-misuse: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("sansio-misuse: all %d checks passed\n", checks);
    return 0;
}
