/*
 * chat: a chat server on 127.0.0.1:PORT. Every text message is relayed to
 * every other connection; a newcomer is greeted with "welcome, N online".
 * It waits in its own poll(2) loop on sockeye_ctx_fd(), as a program with
 * other descriptors to watch (a terminal, a game's sockets) would.
 *
 *   chat PORT [N]
 *
 * Prints "listening on 127.0.0.1:PORT" once it listens, and "joined ID" and
 * "left ID" as connections come and go. With N it exits after N connections
 * have ended; otherwise it runs until SIGINT or SIGTERM. Either way it frees
 * everything and exits 0.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sockeye.h>

/* The most connections in the room; more are closed with 1013 (try again
 * later). */
#define MAX_MEMBERS 1024

static volatile sig_atomic_t stopping = 0;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

struct room {
    uint64_t members[MAX_MEMBERS];
    size_t count;
};

static void say(sockeye_ctx *ctx, uint64_t to, const char *text, size_t len)
{
    /* A member that does not read gets SOCKEYE_ERR_BACKPRESSURE: it misses
     * the line rather than holding the room up. */
    sockeye_send(ctx, to, SOCKEYE_TEXT, (const uint8_t *)text, len, NULL);
}

static void join(sockeye_ctx *ctx, struct room *room, uint64_t id)
{
    if (room->count == MAX_MEMBERS) {
        sockeye_close(ctx, id, 1013, "room full");
        return;
    }
    room->members[room->count++] = id;
    char welcome[64];
    int n = snprintf(welcome, sizeof welcome, "welcome, %zu online", room->count);
    say(ctx, id, welcome, (size_t)n);
    printf("joined %llu\n", (unsigned long long)id);
    fflush(stdout);
}

static void leave(struct room *room, uint64_t id)
{
    for (size_t i = 0; i < room->count; i++) {
        if (room->members[i] == id) {
            room->members[i] = room->members[--room->count];
            printf("left %llu\n", (unsigned long long)id);
            fflush(stdout);
            return;
        }
    }
}

/* Takes every waiting event; returns how many connections ended, or -1. */
static long drain(sockeye_ctx *ctx, struct room *room)
{
    long ended = 0;
    for (;;) {
        sockeye_event ev;
        sockeye_result rc = sockeye_event_poll(ctx, &ev, 0);
        if (rc == SOCKEYE_ERR_AGAIN) {
            return ended;
        }
        if (rc != SOCKEYE_OK) {
            fprintf(stderr, "chat: poll: %s\n", sockeye_result_str((int)rc));
            return -1;
        }
        switch (ev.type) {
        case SOCKEYE_EVENT_OPEN:
            join(ctx, room, ev.conn);
            break;
        case SOCKEYE_EVENT_TEXT:
            for (size_t i = 0; i < room->count; i++) {
                if (room->members[i] != ev.conn) {
                    say(ctx, room->members[i], (const char *)ev.data, ev.len);
                }
            }
            break;
        case SOCKEYE_EVENT_CLOSE:
        case SOCKEYE_EVENT_ERROR:
            leave(room, ev.conn);
            ended++;
            break;
        default:
            break;
        }
    }
}

static int serve(sockeye_ctx *ctx, long port, long limit)
{
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%ld", port);
    uint64_t listener = 0;
    uint16_t bound = 0;
    sockeye_result rc;
    if ((rc = sockeye_ctx_listen(ctx, addr, NULL, &listener)) != SOCKEYE_OK ||
        (rc = sockeye_ctx_listener_port(ctx, listener, &bound)) != SOCKEYE_OK) {
        char message[256] = "";
        size_t len = 0;
        sockeye_ctx_last_error(ctx, message, sizeof message, &len);
        fprintf(stderr, "chat: listen: %s\n", message);
        return 1;
    }
    printf("listening on 127.0.0.1:%u\n", (unsigned)bound);
    fflush(stdout);

    static struct room room;
    struct pollfd fds[1];
    fds[0].fd = sockeye_ctx_fd(ctx);
    fds[0].events = POLLIN;
    long ended = 0;
    while (!stopping && (limit == 0 || ended < limit)) {
        /* Other descriptors would sit in this array too. */
        int n = poll(fds, 1, 200);
        if (n < 0 && errno != EINTR) {
            perror("chat: poll");
            return 1;
        }
        if (n > 0 && (fds[0].revents & POLLIN)) {
            long gone = drain(ctx, &room);
            if (gone < 0) {
                return 1;
            }
            ended += gone;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: chat PORT [N]\n");
        return 2;
    }
    char *end = NULL;
    long port = strtol(argv[1], &end, 10);
    long limit = argc == 3 ? strtol(argv[2], NULL, 10) : 0;
    if (*end != '\0' || port < 0 || port > 65535 || limit < 0) {
        fprintf(stderr, "usage: chat PORT [N]\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    sockeye_ctx *ctx = NULL;
    sockeye_result rc = sockeye_ctx_new(1, &ctx);
    if (rc != SOCKEYE_OK) {
        fprintf(stderr, "chat: sockeye_ctx_new: %s\n", sockeye_result_str((int)rc));
        return 1;
    }
    int status = serve(ctx, port, limit);
    sockeye_ctx_free(ctx);
    return status;
}
