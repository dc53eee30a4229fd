/*
 * sansio-echo-server PORT [N]: a WebSocket echo server on 127.0.0.1:PORT
 * built on sockeye's sans-I/O layer (sockeye_conn_*) and epoll.
 *
 * Every text and binary message is sent back, on any path, with
 * permessage-deflate accepted when the client offers it. With N the server
 * exits after N connections have ended; without it, on SIGINT or SIGTERM.
 * Either way it frees everything first and exits 0.
 *
 * Each readable socket is served in turns: read into one buffer, feed it,
 * take the events (echoing messages), then write all the output before
 * reading again, so everything one read causes leaves in one write. A
 * socket whose peer does not read is not read either until its output is
 * written (EPOLLOUT). No allocation and no printing per message.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <sockeye.h>

#define READ_BUFFER (256 * 1024)
#define MAX_EVENTS 256

struct client {
    int fd;
    sockeye_conn *conn;
    int want_write;          /* EPOLLOUT is registered: output waits */
    uint64_t deadline;       /* next timer, or UINT64_MAX */
    struct client *prev, *next;
};

static volatile sig_atomic_t stop_requested = 0;
static unsigned char read_buffer[READ_BUFFER];
static struct client *clients = NULL;
static int epoll_fd = -1;
static long ended = 0;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static void drop_client(struct client *c) {
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    sockeye_conn_free(c->conn);
    if (c->prev) c->prev->next = c->next; else clients = c->next;
    if (c->next) c->next->prev = c->prev;
    free(c);
    ended++;
}

/* Writes what the connection has queued. Returns -1 when the socket
 * failed, 0 when everything was written, 1 when the kernel is full. */
static int flush_output(struct client *c) {
    for (;;) {
        const uint8_t *data;
        size_t len;
        if (sockeye_conn_peek_output(c->conn, &data, &len) != SOCKEYE_OK) return -1;
        if (len == 0) break;
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return -1;
        }
        sockeye_conn_consume_output(c->conn, (size_t)n);
    }
    int pending = sockeye_conn_output_len(c->conn) > 0;
    if (pending != c->want_write) {
        struct epoll_event ev;
        memset(&ev, 0, sizeof ev);
        ev.events = pending ? EPOLLOUT : EPOLLIN;
        ev.data.ptr = c;
        epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_write = pending;
    }
    return pending;
}

/* Echoes every message the fed bytes completed. */
static void take_events(struct client *c) {
    sockeye_conn_event ev;
    while (sockeye_conn_next_event(c->conn, &ev) == SOCKEYE_OK) {
        if (ev.type == SOCKEYE_CONN_EVENT_TEXT) {
            sockeye_conn_send(c->conn, SOCKEYE_TEXT, ev.data, ev.len);
        } else if (ev.type == SOCKEYE_CONN_EVENT_BINARY) {
            sockeye_conn_send(c->conn, SOCKEYE_BINARY, ev.data, ev.len);
        }
    }
}

/* After a turn: write, then close the socket or note its next deadline.
 * Returns 0 when the client is gone. */
static int finish_turn(struct client *c) {
    if (flush_output(c) < 0) {
        drop_client(c);
        return 0;
    }
    if (sockeye_conn_should_close_transport(c->conn)) {
        /* A server closes at once (RFC 6455 §7.1.1). */
        drop_client(c);
        return 0;
    }
    uint64_t deadline;
    c->deadline = sockeye_conn_next_deadline(c->conn, now_ms(), &deadline) == SOCKEYE_OK
                      ? deadline
                      : UINT64_MAX;
    return 1;
}

static void on_readable(struct client *c) {
    for (;;) {
        ssize_t n = recv(c->fd, read_buffer, sizeof read_buffer, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) {
            sockeye_conn_feed_eof(c->conn);
        } else {
            sockeye_conn_feed(c->conn, read_buffer, (size_t)n);
        }
        take_events(c);
        if (!finish_turn(c)) return;
        if (n <= 0) {
            /* The peer is gone: nothing more will be read. */
            drop_client(c);
            return;
        }
        if (c->want_write || (size_t)n < sizeof read_buffer) return;
    }
}

static void accept_all(int listener, const sockeye_config *config) {
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct client *c = (struct client *)calloc(1, sizeof *c);
        if (c == NULL || set_nonblocking(fd) < 0 ||
            sockeye_conn_new_server(config, &c->conn) != SOCKEYE_OK) {
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->deadline = UINT64_MAX;
        struct epoll_event ev;
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            sockeye_conn_free(c->conn);
            free(c);
            close(fd);
            continue;
        }
        c->next = clients;
        if (clients) clients->prev = c;
        clients = c;
        finish_turn(c); /* starts the handshake timer */
    }
}

/* Runs the timers that ran out; returns the milliseconds to the next. */
static int run_timers(void) {
    uint64_t now = now_ms(), next = UINT64_MAX;
    struct client *c = clients;
    while (c) {
        struct client *following = c->next;
        if (c->deadline <= now) {
            sockeye_conn_on_timeout(c->conn, now);
            take_events(c);
            if (!finish_turn(c)) {
                c = following;
                continue;
            }
        }
        if (c->deadline < next) next = c->deadline;
        c = following;
    }
    if (next == UINT64_MAX) return -1;
    return next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s PORT [N]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    long limit = argc == 3 ? atol(argv[2]) : -1;
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "invalid port %s\n", argv[1]);
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    sockeye_config *config = NULL;
    if (sockeye_config_new(&config) != SOCKEYE_OK ||
        sockeye_config_set_deflate(config, true) != SOCKEYE_OK) {
        fprintf(stderr, "config failed\n");
        return 1;
    }

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 ||
        listen(listener, 1024) < 0 || set_nonblocking(listener) < 0) {
        perror("listen");
        sockeye_config_free(config);
        return 1;
    }
    epoll_fd = epoll_create1(0);
    struct epoll_event lev;
    memset(&lev, 0, sizeof lev);
    lev.events = EPOLLIN;
    lev.data.ptr = NULL;
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listener, &lev);
    printf("listening on 127.0.0.1:%d\n", port);
    fflush(stdout);

    struct epoll_event events[MAX_EVENTS];
    int timeout = -1;
    while (!stop_requested && (limit < 0 || ended < limit)) {
        int n = epoll_wait(epoll_fd, events, MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            break;
        }
        for (int i = 0; i < n; i++) {
            struct client *c = (struct client *)events[i].data.ptr;
            if (c == NULL) {
                accept_all(listener, config);
            } else if (c->want_write) {
                /* Output first: reading waits until the peer has read. */
                if (!finish_turn(c)) continue;
                if (!c->want_write) on_readable(c);
            } else {
                on_readable(c);
            }
        }
        timeout = run_timers();
    }

    while (clients) drop_client(clients);
    close(listener);
    close(epoll_fd);
    sockeye_config_free(config);
    return 0;
}
