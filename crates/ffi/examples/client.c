/*
 * client: connects to URL, sends MESSAGE as text, prints the text and binary
 * messages that arrive (one a line) until one equals EXPECT (by default
 * MESSAGE itself: its echo), then closes with 1000 and waits for the close.
 *
 *   client URL MESSAGE [EXPECT]
 *
 * Exits 0 after a clean close; on any failure, prints why on stderr and
 * exits 1.
 */
#include <stdio.h>
#include <string.h>

#include <sockeye.h>

static int fail(sockeye_ctx *ctx, const char *what, sockeye_result rc)
{
    char message[256] = "";
    size_t len = 0;
    sockeye_ctx_last_error(ctx, message, sizeof message, &len);
    fprintf(stderr, "client: %s: %s%s%s\n", what, sockeye_result_str((int)rc),
            len ? "; " : "", message);
    return 1;
}

static int run(sockeye_ctx *ctx, const char *url, const char *message, const char *expect)
{
    uint64_t conn = 0;
    sockeye_result rc = sockeye_ctx_connect(ctx, url, NULL, &conn);
    if (rc != SOCKEYE_OK) {
        return fail(ctx, "connect", rc);
    }
    int got_it = 0;
    for (;;) {
        sockeye_event ev;
        rc = sockeye_event_poll(ctx, &ev, 10000);
        if (rc == SOCKEYE_ERR_AGAIN) {
            fprintf(stderr, "client: no event for 10 s\n");
            return 1;
        }
        if (rc != SOCKEYE_OK) {
            return fail(ctx, "poll", rc);
        }
        switch (ev.type) {
        case SOCKEYE_EVENT_OPEN:
            rc = sockeye_send(ctx, conn, SOCKEYE_TEXT, (const uint8_t *)message,
                              strlen(message), NULL);
            if (rc != SOCKEYE_OK) {
                return fail(ctx, "send", rc);
            }
            break;
        case SOCKEYE_EVENT_TEXT:
        case SOCKEYE_EVENT_BINARY:
            fwrite(ev.data, 1, ev.len, stdout);
            fputc('\n', stdout);
            fflush(stdout);
            if (!got_it && ev.len == strlen(expect) && memcmp(ev.data, expect, ev.len) == 0) {
                got_it = 1;
                rc = sockeye_close(ctx, conn, 1000, "done");
                if (rc != SOCKEYE_OK) {
                    return fail(ctx, "close", rc);
                }
            }
            break;
        case SOCKEYE_EVENT_CLOSE:
            if (!got_it) {
                fprintf(stderr, "client: closed (%u) before the expected message\n",
                        (unsigned)ev.close_code);
                return 1;
            }
            if (ev.close_code != 1000) {
                fprintf(stderr, "client: closed with %u, not 1000\n", (unsigned)ev.close_code);
                return 1;
            }
            return 0;
        case SOCKEYE_EVENT_ERROR:
            fprintf(stderr, "client: %s: %.*s\n", sockeye_result_str(ev.error), (int)ev.len,
                    (const char *)ev.data);
            return 1;
        default:
            break;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: client URL MESSAGE [EXPECT]\n");
        return 2;
    }
    sockeye_ctx *ctx = NULL;
    sockeye_result rc = sockeye_ctx_new(1, &ctx);
    if (rc != SOCKEYE_OK) {
        fprintf(stderr, "client: sockeye_ctx_new: %s\n", sockeye_result_str((int)rc));
        return 1;
    }
    int status = run(ctx, argv[1], argv[2], argc == 4 ? argv[3] : argv[2]);
    sockeye_ctx_free(ctx);
    return status;
}
