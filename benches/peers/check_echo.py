#!/usr/bin/env python3
"""Checks that an echo server handles what `sockeye bench` does not send.

Usage: check_echo.py PORT   (a server already listening on 127.0.0.1:PORT)

Over one raw connection, with only the standard library: the upgrade on an
arbitrary path, with permessage-deflate offered, must not negotiate it; a text
message in three fragments with a ping between them must come back whole,
after a pong; a 1 MiB + 1 byte binary message in two fragments must come back
byte for byte; a close must be answered. Exits non-zero on the first failure.
The benchmark itself validates every echo (kind, size, first and last bytes),
so this is only for what it never exercises.
"""

import base64
import os
import socket
import struct
import sys


def frame(opcode, payload, fin=True):
    """A masked client frame."""
    mask = os.urandom(4)
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", first, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, n)
    key = (mask * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
    return header + mask + masked


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return bytes(buf)


def read_frame(sock):
    """Returns (fin, opcode, payload) of one unmasked server frame."""
    b0, b1 = recv_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exact(sock, 8))[0]
    return bool(b0 & 0x80), b0 & 0x0F, recv_exact(sock, n)


def main():
    port = int(sys.argv[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /any/path?x=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += recv_exact(sock, 1)
    status = response.split(b"\r\n")[0]
    assert b" 101 " in status, f"upgrade refused: {status!r}"
    assert b"permessage-deflate" not in response.lower(), "permessage-deflate was negotiated"

    sock.sendall(
        frame(0x1, b"hello ", fin=False)
        + frame(0x0, b"frag", fin=False)
        + frame(0x9, b"ping")
        + frame(0x0, b"mented")
    )
    got = [read_frame(sock), read_frame(sock)]
    assert (True, 0xA, b"ping") in got, f"no pong: {got!r}"
    assert (True, 0x1, b"hello fragmented") in got, f"fragmented text not echoed whole: {got!r}"

    big = os.urandom(1 << 20) + b"x"
    sock.sendall(frame(0x2, big[:700_000], fin=False) + frame(0x0, big[700_000:]))
    data, first_opcode = b"", None
    while True:
        fin, opcode, payload = read_frame(sock)
        first_opcode = opcode if first_opcode is None else first_opcode
        data += payload
        if fin:
            break
    assert first_opcode == 0x2, f"1 MiB echo came back with opcode {first_opcode}"
    assert data == big, f"1 MiB echo differs ({len(data)} bytes)"

    sock.sendall(frame(0x8, struct.pack("!H", 1000)))
    _, opcode, _ = read_frame(sock)
    assert opcode == 0x8, f"close answered with opcode {opcode}"
    print(f"127.0.0.1:{port}: ok (no deflate, fragments, ping, 1 MiB, close)")


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, OSError, EOFError) as e:
        print(f"check_echo: {e}", file=sys.stderr)
        sys.exit(1)
