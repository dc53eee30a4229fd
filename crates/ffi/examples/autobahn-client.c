/*
 * autobahn-client: the Autobahn TestSuite's client loop on sockeye's
 * batteries-included layer, with permessage-deflate offered.
 *
 *   autobahn-client URL [AGENT]
 *
 * URL is the fuzzing server's, such as ws://127.0.0.1:9001. Asks for the
 * case count (/getCaseCount), runs every case (/runCase?case=N&agent=AGENT),
 * echoing each text and binary message until the server closes, then asks
 * for the reports (/updateReports?agent=AGENT). AGENT defaults to
 * "sockeye-c". Exits 0 when every step ran.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sockeye.h>

/* Runs one connection to `url` until it ends. Echoes messages when `echo` is
 * set; otherwise keeps the first text message in `text` (NUL-terminated).
 * Returns 0 when the connection opened and ended, 1 when it could not open. */
static int session(sockeye_ctx *ctx, const sockeye_config *config, const char *url, int echo,
                   char *text, size_t cap)
{
    uint64_t conn = 0;
    sockeye_result rc = sockeye_ctx_connect(ctx, url, config, &conn);
    if (rc != SOCKEYE_OK) {
        fprintf(stderr, "autobahn-client: connect %s: %s\n", url, sockeye_result_str((int)rc));
        return 1;
    }
    int opened = 0;
    for (;;) {
        sockeye_event ev;
        rc = sockeye_event_poll(ctx, &ev, -1);
        if (rc != SOCKEYE_OK) {
            fprintf(stderr, "autobahn-client: poll: %s\n", sockeye_result_str((int)rc));
            return 1;
        }
        switch (ev.type) {
        case SOCKEYE_EVENT_OPEN:
            opened = 1;
            break;
        case SOCKEYE_EVENT_TEXT:
        case SOCKEYE_EVENT_BINARY:
            if (echo) {
                uint32_t kind = ev.type == SOCKEYE_EVENT_TEXT ? SOCKEYE_TEXT : SOCKEYE_BINARY;
                struct timespec pause = {0, 1000000};
                while (sockeye_send(ctx, conn, kind, ev.data, ev.len, NULL) ==
                       SOCKEYE_ERR_BACKPRESSURE) {
                    nanosleep(&pause, NULL);
                }
            } else if (text != NULL && text[0] == '\0' && ev.len < cap) {
                memcpy(text, ev.data, ev.len);
                text[ev.len] = '\0';
            }
            break;
        case SOCKEYE_EVENT_CLOSE:
            return opened ? 0 : 1;
        case SOCKEYE_EVENT_ERROR:
            if (!opened) {
                fprintf(stderr, "autobahn-client: %s: %.*s\n", url, (int)ev.len,
                        (const char *)ev.data);
                return 1;
            }
            return 0; /* a case that ends in a failure is the suite's to judge */
        default:
            break;
        }
    }
}

static int run(sockeye_ctx *ctx, const sockeye_config *config, const char *base, const char *agent)
{
    char url[1024];
    char count_text[32] = "";
    snprintf(url, sizeof url, "%s/getCaseCount", base);
    if (session(ctx, config, url, 0, count_text, sizeof count_text) != 0) {
        return 1;
    }
    long count = strtol(count_text, NULL, 10);
    if (count <= 0) {
        fprintf(stderr, "autobahn-client: bad case count \"%s\"\n", count_text);
        return 1;
    }
    fprintf(stderr, "autobahn-client: %ld cases\n", count);
    int status = 0;
    for (long n = 1; n <= count; n++) {
        snprintf(url, sizeof url, "%s/runCase?case=%ld&agent=%s", base, n, agent);
        if (session(ctx, config, url, 1, NULL, 0) != 0) {
            status = 1;
        }
    }
    snprintf(url, sizeof url, "%s/updateReports?agent=%s", base, agent);
    if (session(ctx, config, url, 0, NULL, 0) != 0) {
        status = 1;
    }
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: autobahn-client URL [AGENT]\n");
        return 2;
    }
    const char *agent = argc == 3 ? argv[2] : "sockeye-c";
    sockeye_ctx *ctx = NULL;
    sockeye_config *config = NULL;
    sockeye_result rc = sockeye_ctx_new(1, &ctx);
    if (rc != SOCKEYE_OK) {
        fprintf(stderr, "autobahn-client: sockeye_ctx_new: %s\n", sockeye_result_str((int)rc));
        return 1;
    }
    int status = 1;
    if ((rc = sockeye_config_new(&config)) != SOCKEYE_OK ||
        (rc = sockeye_config_set_deflate(config, true)) != SOCKEYE_OK) {
        fprintf(stderr, "autobahn-client: config: %s\n", sockeye_result_str((int)rc));
    } else {
        status = run(ctx, config, argv[1], agent);
    }
    if (config != NULL) {
        sockeye_config_free(config);
    }
    sockeye_ctx_free(ctx);
    return status;
}
