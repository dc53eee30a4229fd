/*
 * The HTTP/1.1 upgrade of RFC 6455 section 4, for the wslay programs: wslay frames messages
 * but does no handshake. SHA-1 (FIPS 180-4) and base64 (RFC 4648) are here so the programs
 * need nothing beyond wslay and libc. Included by wslay-client.c and wslay-echo-server.c; every
 * function is static inline, so a program that uses only some of them builds without warnings.
 */
#ifndef SOCKEYE_PEERS_HANDSHAKE_H
#define SOCKEYE_PEERS_HANDSHAKE_H

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* RFC 6455 section 1.3: appended to Sec-WebSocket-Key before hashing. */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* A request or response head larger than this is refused (a browser's is under 2 KiB). */
#define WS_MAX_HEAD 8192
/* base64 of the 20-byte SHA-1 digest: 28 characters and a NUL. */
#define WS_ACCEPT_LEN 29

static inline uint32_t ws_rotl(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static inline void ws_sha1_block(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[80];
    uint32_t a, b, c, d, e, f, k, t;
    unsigned i;
    for (i = 0; i < 16; i++) {
        w[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16) |
               ((uint32_t)p[4 * i + 2] << 8) | (uint32_t)p[4 * i + 3];
    }
    for (i = 16; i < 80; i++) {
        w[i] = ws_rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    }
    a = h[0];
    b = h[1];
    c = h[2];
    d = h[3];
    e = h[4];
    for (i = 0; i < 80; i++) {
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999u;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1u;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdcu;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6u;
        }
        t = ws_rotl(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = ws_rotl(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

/* SHA-1 of len bytes at data into out[20]. */
static inline void ws_sha1(const unsigned char *data, size_t len, unsigned char out[20])
{
    uint32_t h[5] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u};
    unsigned char tail[128];
    size_t full = len / 64 * 64;
    size_t rest = len - full;
    size_t tail_len, i;
    uint64_t bits = (uint64_t)len * 8u;
    for (i = 0; i < full; i += 64) {
        ws_sha1_block(h, data + i);
    }
    memset(tail, 0, sizeof(tail));
    if (rest > 0) {
        memcpy(tail, data + full, rest);
    }
    tail[rest] = 0x80;
    tail_len = rest + 1 + 8 <= 64 ? 64 : 128;
    for (i = 0; i < 8; i++) {
        tail[tail_len - 1 - i] = (unsigned char)(bits >> (8 * i));
    }
    for (i = 0; i < tail_len; i += 64) {
        ws_sha1_block(h, tail + i);
    }
    for (i = 0; i < 5; i++) {
        out[4 * i] = (unsigned char)(h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(h[i] >> 8);
        out[4 * i + 3] = (unsigned char)h[i];
    }
}

/* base64 of len bytes into out, which holds 4 * ceil(len / 3) + 1 bytes; NUL-terminated. */
static inline void ws_base64(const unsigned char *in, size_t len, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, o = 0;
    for (i = 0; i + 2 < len; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
}

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key of key_len bytes (RFC 6455 section 4.2.2).
 * Returns -1 when the key is too long to be one. */
static inline int ws_accept_for(const char *key, size_t key_len, char out[WS_ACCEPT_LEN])
{
    unsigned char joined[128];
    unsigned char digest[20];
    size_t guid_len = strlen(WS_GUID);
    if (key_len + guid_len > sizeof(joined)) {
        return -1;
    }
    memcpy(joined, key, key_len);
    memcpy(joined + key_len, WS_GUID, guid_len);
    ws_sha1(joined, key_len + guid_len, digest);
    ws_base64(digest, sizeof(digest), out);
    return 0;
}

/* The end of an HTTP head (just past "\r\n\r\n") within len bytes, or 0 if not there yet. */
static inline size_t ws_head_end(const char *buf, size_t len)
{
    size_t i;
    for (i = 3; i < len; i++) {
        if (buf[i - 3] == '\r' && buf[i - 2] == '\n' && buf[i - 1] == '\r' && buf[i] == '\n') {
            return i + 1;
        }
    }
    return 0;
}

/* Finds header NAME (case-insensitive) in the head of head_len bytes: sets *value and *len to
 * its value without surrounding blanks and returns 0, or returns -1. The first line (request
 * or status line) is skipped. */
static inline int ws_header(const char *head, size_t head_len, const char *name,
                            const char **value, size_t *len)
{
    size_t name_len = strlen(name);
    const char *end = head + head_len;
    const char *line = (const char *)memchr(head, '\n', head_len);
    while (line && line + 1 < end) {
        const char *start = line + 1;
        const char *eol = (const char *)memchr(start, '\n', (size_t)(end - start));
        size_t i;
        if (!eol) {
            break;
        }
        if ((size_t)(eol - start) > name_len && start[name_len] == ':') {
            for (i = 0; i < name_len; i++) {
                if (tolower((unsigned char)start[i]) != tolower((unsigned char)name[i])) {
                    break;
                }
            }
            if (i == name_len) {
                const char *v = start + name_len + 1;
                const char *ve = eol;
                while (v < ve && (*v == ' ' || *v == '\t')) {
                    v++;
                }
                while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) {
                    ve--;
                }
                *value = v;
                *len = (size_t)(ve - v);
                return 0;
            }
        }
        line = eol;
    }
    return -1;
}

/* Whether the comma-separated header value of len bytes holds token (case-insensitive), as
 * "Connection: keep-alive, Upgrade" does "upgrade". */
static inline int ws_has_token(const char *value, size_t len, const char *token)
{
    size_t tlen = strlen(token);
    size_t i = 0;
    while (i < len) {
        size_t start, end, j;
        while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ',')) {
            i++;
        }
        start = i;
        while (i < len && value[i] != ',') {
            i++;
        }
        end = i;
        while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t')) {
            end--;
        }
        if (end - start == tlen) {
            for (j = 0; j < tlen; j++) {
                if (tolower((unsigned char)value[start + j]) != tolower((unsigned char)token[j])) {
                    break;
                }
            }
            if (j == tlen) {
                return 1;
            }
        }
    }
    return 0;
}

/* Splits ws://HOST:PORT/PATH: host and port point into buf (cap bytes), path into url.
 * Returns -1 for anything else. */
static inline int ws_parse_url(const char *url, char *buf, size_t cap, const char **host,
                               const char **port, const char **path)
{
    char *colon, *slash;
    size_t i;
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
    if (!colon || colon == buf || colon[1] == '\0') {
        return -1;
    }
    *colon = '\0';
    for (i = 1; colon[i] != '\0'; i++) {
        if (!isdigit((unsigned char)colon[i])) {
            return -1;
        }
    }
    *host = buf;
    *port = colon + 1;
    return 0;
}

#endif
