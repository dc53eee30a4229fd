/*
 * thread-sends: 8 threads send on two connections at once (four threads per
 * connection) while the main thread polls; every message must arrive, in
 * the order each thread sent it. Built with ThreadSanitizer and
 * AddressSanitizer by scripts/c-api. Exits 0 when all arrived, printing a
 * one-line summary.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sockeye.h>

#if defined(__SANITIZE_THREAD__)
/* libsockeye is Rust built without ThreadSanitizer: the atomics that order
 * its threads' hand-offs (tokio's task queues, the library's own locks) are
 * invisible to TSan, so the memcpy and malloc calls it makes look
 * unsynchronised. Those calls are not tracked; every access this program
 * makes, including to the event data and the buffers it passes in, still
 * is. */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    return "called_from_lib:libsockeye.so\n";
}
#endif

#define THREADS 8
#define EACH 2000

struct sender {
    sockeye_ctx *ctx;
    uint64_t conn;
    int index;
    int failed;
};

static void *send_all(void *arg)
{
    struct sender *s = (struct sender *)arg;
    struct timespec pause = {0, 1000000};
    for (int n = 0; n < EACH; n++) {
        char text[32];
        int len = snprintf(text, sizeof text, "%d:%d", s->index, n);
        sockeye_result rc;
        /* Backpressure clears while the main thread polls; if it stopped
         * (a failed check), give up after 10 s rather than wait forever. */
        int tries = 0;
        while ((rc = sockeye_send(s->ctx, s->conn, SOCKEYE_TEXT, (const uint8_t *)text,
                                  (size_t)len, NULL)) == SOCKEYE_ERR_BACKPRESSURE &&
               tries++ < 10000) {
            nanosleep(&pause, NULL);
        }
        if (rc != SOCKEYE_OK) {
            fprintf(stderr, "thread-sends: thread %d: send: %s\n", s->index,
                    sockeye_result_str((int)rc));
            s->failed = 1;
            return NULL;
        }
    }
    return NULL;
}

int main(void)
{
    sockeye_ctx *ctx = NULL;
    if (sockeye_ctx_new(2, &ctx) != SOCKEYE_OK) {
        fprintf(stderr, "thread-sends: sockeye_ctx_new failed\n");
        return 1;
    }
    int status = 1;
    uint64_t listener = 0;
    uint16_t port = 0;
    uint64_t clients[2] = {0, 0};
    uint64_t servers[2] = {0, 0};
    int opened = 0;
    char url[64];
    if (sockeye_ctx_listen(ctx, "127.0.0.1:0", NULL, &listener) != SOCKEYE_OK ||
        sockeye_ctx_listener_port(ctx, listener, &port) != SOCKEYE_OK) {
        fprintf(stderr, "thread-sends: listen failed\n");
        sockeye_ctx_free(ctx);
        return 1;
    }
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/", (unsigned)port);
    for (int i = 0; i < 2; i++) {
        if (sockeye_ctx_connect(ctx, url, NULL, &clients[i]) != SOCKEYE_OK) {
            fprintf(stderr, "thread-sends: connect failed\n");
            sockeye_ctx_free(ctx);
            return 1;
        }
    }
    while (opened < 4) {
        sockeye_event ev;
        sockeye_result rc = sockeye_event_poll(ctx, &ev, 10000);
        if (rc != SOCKEYE_OK || ev.type != SOCKEYE_EVENT_OPEN) {
            fprintf(stderr, "thread-sends: no OPEN (%s)\n", sockeye_result_str((int)rc));
            sockeye_ctx_free(ctx);
            return 1;
        }
        if (ev.listener != 0) {
            servers[servers[0] == 0 ? 0 : 1] = ev.conn;
        }
        opened++;
    }
    /* The servers' order does not matter: each thread checks by content. */

    pthread_t threads[THREADS];
    struct sender senders[THREADS];
    for (int t = 0; t < THREADS; t++) {
        senders[t].ctx = ctx;
        senders[t].conn = servers[t % 2];
        senders[t].index = t;
        senders[t].failed = 0;
        pthread_create(&threads[t], NULL, send_all, &senders[t]);
    }

    int next[THREADS];
    uint64_t receiver[THREADS];
    memset(next, 0, sizeof next);
    memset(receiver, 0, sizeof receiver);
    long got = 0;
    long wanted = (long)THREADS * EACH;
    int quiet = 0;
    while (got < wanted && quiet < 100) {
        sockeye_event ev;
        sockeye_result rc = sockeye_event_poll(ctx, &ev, 100);
        if (rc == SOCKEYE_ERR_AGAIN) {
            quiet++;
            continue;
        }
        quiet = 0;
        if (rc != SOCKEYE_OK) {
            fprintf(stderr, "thread-sends: poll: %s\n", sockeye_result_str((int)rc));
            break;
        }
        if (ev.type != SOCKEYE_EVENT_TEXT) {
            fprintf(stderr, "thread-sends: unexpected event type %u\n", (unsigned)ev.type);
            break;
        }
        char text[32];
        size_t len = ev.len < sizeof text - 1 ? ev.len : sizeof text - 1;
        memcpy(text, ev.data, len);
        text[len] = '\0';
        int t = -1;
        int n = -1;
        if (sscanf(text, "%d:%d", &t, &n) != 2 || t < 0 || t >= THREADS) {
            fprintf(stderr, "thread-sends: bad message \"%s\"\n", text);
            break;
        }
        if (receiver[t] == 0) {
            receiver[t] = ev.conn;
        }
        if (ev.conn != receiver[t] || n != next[t]) {
            fprintf(stderr, "thread-sends: thread %d: got %d on %llu, wanted %d\n", t, n,
                    (unsigned long long)ev.conn, next[t]);
            break;
        }
        next[t]++;
        got++;
    }
    int failed = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        failed |= senders[t].failed;
    }
    if (got == wanted && !failed && receiver[0] != receiver[1]) {
        printf("thread-sends: %ld messages from %d threads arrived in order\n", got, THREADS);
        status = 0;
    } else {
        printf("thread-sends: %ld of %ld messages arrived in order\n", got, wanted);
    }
    sockeye_ctx_free(ctx);
    return status;
}
