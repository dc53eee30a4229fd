/*
 * sansio-autobahn-client URL [AGENT]: the Autobahn TestSuite's client loop
 * on sockeye's sans-I/O layer (sockeye_conn_*) with blocking sockets.
 *
 * URL is the fuzzing server, e.g. ws://127.0.0.1:9001. The client asks
 * /getCaseCount, runs /runCase?case=N&agent=AGENT for every case, echoing
 * every text and binary message, then asks /updateReports?agent=AGENT.
 * permessage-deflate is offered with client_no_context_takeover, which the
 * suite's 13.x cases look for. AGENT defaults to "sockeye-sansio".
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sockeye.h>

static unsigned char read_buffer[256 * 1024];

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Connects a TCP socket to HOST:PORT of a ws:// URL. */
static int connect_url(const char *url) {
    char host[256], port[16] = "80";
    const char *p = url + strlen("ws://");
    size_t n = strcspn(p, ":/?");
    if (strncmp(url, "ws://", 5) != 0 || n == 0 || n >= sizeof host) return -1;
    memcpy(host, p, n);
    host[n] = '\0';
    if (p[n] == ':') {
        size_t m = strcspn(p + n + 1, "/?");
        if (m == 0 || m >= sizeof port) return -1;
        memcpy(port, p + n + 1, m);
        port[m] = '\0';
    }
    struct addrinfo hints, *found = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &found) != 0) return -1;
    int fd = -1;
    for (struct addrinfo *a = found; a != NULL; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(found);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

/* Writes all the output; -1 when the socket failed. */
static int flush_output(int fd, sockeye_conn *conn) {
    for (;;) {
        const uint8_t *data;
        size_t len;
        if (sockeye_conn_peek_output(conn, &data, &len) != SOCKEYE_OK) return -1;
        if (len == 0) return 0;
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        sockeye_conn_consume_output(conn, (size_t)n);
    }
}

/*
 * Runs one connection to URL until it ends, echoing every message. The
 * first text message is copied into `text` (of `cap` bytes) when it is not
 * NULL. Returns 0 when the connection opened, -1 otherwise.
 */
static int run(const sockeye_config *config, const char *url, char *text, size_t cap) {
    int fd = connect_url(url);
    if (fd < 0) {
        fprintf(stderr, "cannot connect to %s\n", url);
        return -1;
    }
    sockeye_conn *conn = NULL;
    if (sockeye_conn_new_client_url(config, url, &conn) != SOCKEYE_OK) {
        fprintf(stderr, "%s: %s\n", url, sockeye_conn_last_error(NULL));
        close(fd);
        return -1;
    }
    int opened = 0, eof = 0;
    for (;;) {
        if (flush_output(fd, conn) < 0) break;
        if (sockeye_conn_should_close_transport(conn)) {
            /* RFC 6455 §7.1.1: the server closes TCP first; wait a
             * little for it before closing ours. */
            struct pollfd pfd;
            pfd.fd = fd;
            pfd.events = POLLIN;
            pfd.revents = 0;
            while (!eof && poll(&pfd, 1, 2000) > 0 &&
                   recv(fd, read_buffer, sizeof read_buffer, 0) > 0) {
            }
            break;
        }
        if (eof) break;
        uint64_t deadline;
        int timeout = -1;
        uint64_t now = now_ms();
        if (sockeye_conn_next_deadline(conn, now, &deadline) == SOCKEYE_OK) {
            timeout = deadline <= now ? 0 : (int)(deadline - now);
        }
        struct pollfd pfd;
        pfd.fd = fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        int ready = poll(&pfd, 1, timeout);
        if (ready < 0 && errno != EINTR) break;
        if (ready == 0) {
            sockeye_conn_on_timeout(conn, now_ms());
        } else if (ready > 0) {
            ssize_t n = recv(fd, read_buffer, sizeof read_buffer, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                eof = 1;
                sockeye_conn_feed_eof(conn);
            } else {
                sockeye_conn_feed(conn, read_buffer, (size_t)n);
            }
        }
        sockeye_conn_event ev;
        sockeye_result r;
        while ((r = sockeye_conn_next_event(conn, &ev)) == SOCKEYE_OK) {
            if (ev.type == SOCKEYE_CONN_EVENT_OPEN) {
                opened = 1;
            } else if (ev.type == SOCKEYE_CONN_EVENT_TEXT) {
                if (text != NULL && text[0] == '\0' && ev.len < cap) {
                    memcpy(text, ev.data, ev.len);
                    text[ev.len] = '\0';
                }
                sockeye_conn_send(conn, SOCKEYE_TEXT, ev.data, ev.len);
            } else if (ev.type == SOCKEYE_CONN_EVENT_BINARY) {
                sockeye_conn_send(conn, SOCKEYE_BINARY, ev.data, ev.len);
            }
        }
        if (r == SOCKEYE_ERR_HANDSHAKE) {
            fprintf(stderr, "%s: %s\n", url, sockeye_conn_last_error(conn));
        }
    }
    close(fd);
    sockeye_conn_free(conn);
    return opened ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s URL [AGENT]\n", argv[0]);
        return 2;
    }
    const char *base = argv[1];
    const char *agent = argc == 3 ? argv[2] : "sockeye-sansio";
    size_t base_len = strlen(base);
    while (base_len > 0 && base[base_len - 1] == '/') base_len--;

    sockeye_config *config = NULL;
    if (sockeye_config_new(&config) != SOCKEYE_OK ||
        sockeye_config_set_deflate_no_context_takeover(config, true, false) != SOCKEYE_OK) {
        fprintf(stderr, "config failed\n");
        return 1;
    }
    char url[2048], count_text[64] = "";
    int status = 0;
    snprintf(url, sizeof url, "%.*s/getCaseCount", (int)base_len, base);
    if (run(config, url, count_text, sizeof count_text) < 0 || count_text[0] == '\0') {
        fprintf(stderr, "no case count from %s\n", url);
        status = 1;
    }
    int count = atoi(count_text);
    for (int i = 1; i <= count; i++) {
        snprintf(url, sizeof url, "%.*s/runCase?case=%d&agent=%s", (int)base_len, base, i, agent);
        run(config, url, NULL, 0);
    }
    snprintf(url, sizeof url, "%.*s/updateReports?agent=%s", (int)base_len, base, agent);
    if (run(config, url, NULL, 0) < 0) status = 1;
    printf("ran %d cases\n", count);
    sockeye_config_free(config);
    return status;
}
