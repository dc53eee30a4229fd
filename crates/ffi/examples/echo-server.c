/*
 * echo-server: echoes every text and binary message on 127.0.0.1:PORT, any
 * path, with permessage-deflate on, using sockeye's batteries-included layer.
 *
 *   echo-server PORT [N]
 *
 * Prints "listening on 127.0.0.1:PORT" (the bound port, also when PORT is 0)
 * once it listens. With N it exits after N connections have ended; otherwise
 * it runs until SIGINT or SIGTERM. Either way it frees everything and exits 0.
 * No output per message: it serves benchmarks.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sockeye.h>

static volatile sig_atomic_t stopping = 0;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void fail(sockeye_ctx *ctx, const char *what, sockeye_result rc)
{
    char message[256] = "";
    size_t len = 0;
    if (ctx != NULL) {
        sockeye_ctx_last_error(ctx, message, sizeof message, &len);
    }
    fprintf(stderr, "echo-server: %s: %s%s%s\n", what, sockeye_result_str((int)rc),
            len ? "; " : "", message);
}

/* Echoes one message. A peer that reads slower than it sends fills its send
 * buffer: then serve the sockets for a millisecond without taking events
 * (this context has no thread of its own, so nothing is written otherwise)
 * and try again, giving up on a peer that does not read at all. */
static void echo(sockeye_ctx *ctx, const sockeye_event *ev)
{
    uint32_t kind = ev->type == SOCKEYE_EVENT_TEXT ? SOCKEYE_TEXT : SOCKEYE_BINARY;
    for (int tries = 0; tries < 10000; tries++) {
        sockeye_result rc = sockeye_send(ctx, ev->conn, kind, ev->data, ev->len, NULL);
        if (rc != SOCKEYE_ERR_BACKPRESSURE) {
            return; /* sent, or the connection is closing: nothing to echo to */
        }
        sockeye_ctx_run(ctx, 1);
    }
    sockeye_close(ctx, ev->conn, 1008, "not reading");
}

/* Listens and echoes until stopped or `limit` connections ended. */
static int serve(sockeye_ctx *ctx, const sockeye_config *config, long port, long limit)
{
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%ld", port);
    uint64_t listener = 0;
    uint16_t bound = 0;
    sockeye_result rc;
    if ((rc = sockeye_ctx_listen(ctx, addr, config, &listener)) != SOCKEYE_OK ||
        (rc = sockeye_ctx_listener_port(ctx, listener, &bound)) != SOCKEYE_OK) {
        fail(ctx, "listen", rc);
        return 1;
    }
    printf("listening on 127.0.0.1:%u\n", (unsigned)bound);
    fflush(stdout);

    long ended = 0;
    while (!stopping && (limit == 0 || ended < limit)) {
        sockeye_event ev;
        rc = sockeye_event_poll(ctx, &ev, 200);
        if (rc == SOCKEYE_ERR_AGAIN) {
            continue;
        }
        if (rc != SOCKEYE_OK) {
            fail(NULL, "sockeye_event_poll", rc); /* poll records no message */
            return 1;
        }
        switch (ev.type) {
        case SOCKEYE_EVENT_TEXT:
        case SOCKEYE_EVENT_BINARY:
            echo(ctx, &ev);
            break;
        case SOCKEYE_EVENT_CLOSE:
        case SOCKEYE_EVENT_ERROR:
            ended++;
            break;
        default:
            break;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: echo-server PORT [N]\n");
        return 2;
    }
    char *end = NULL;
    long port = strtol(argv[1], &end, 10);
    long limit = argc == 3 ? strtol(argv[2], NULL, 10) : 0;
    if (*end != '\0' || port < 0 || port > 65535 || limit < 0) {
        fprintf(stderr, "usage: echo-server PORT [N]\n");
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    sockeye_ctx *ctx = NULL;
    sockeye_config *config = NULL;
    /* No thread of its own: the sockets are served inside sockeye_event_poll
       on this thread, one loop with no hand-off per message. */
    sockeye_result rc = sockeye_ctx_new(0, &ctx);
    if (rc != SOCKEYE_OK) {
        fail(NULL, "sockeye_ctx_new", rc);
        return 1;
    }
    int status = 1;
    if ((rc = sockeye_config_new(&config)) != SOCKEYE_OK ||
        (rc = sockeye_config_set_deflate(config, true)) != SOCKEYE_OK) {
        fail(ctx, "config", rc);
    } else {
        status = serve(ctx, config, port, limit);
    }
    if (config != NULL) {
        sockeye_config_free(config);
    }
    sockeye_ctx_free(ctx);
    return status;
}
