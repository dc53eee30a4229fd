"""The ``websockets`` package's client run through the interoperability
checks against ``sockeye serve`` (the echo server).

    python client.py ws[s]://127.0.0.1:PORT [--server-deflate on|off] [--server-max-size BYTES]
                     [--limit-checks] [--no-verify]

The server is expected to run with ``--protocol superchat --protocol chat``
and the given ``--max-message-size`` (default 2 MiB); --server-deflate says
whether it accepts permessage-deflate (default on; the client always offers
it). One line is printed per check, ``ok NAME`` or ``FAILED NAME: WHY``; the
exit status is 0 only when every check passed.

--limit-checks runs, after the handshake, only the checks at the server's
limit, for a server that accepts permessage-deflate (its subprotocols do not
matter): a message of exactly --server-max-size bytes, random
(incompressible) binary and compressible text, each sent compressed in one
frame and echoed back intact, then one byte more closed with 1009 within
PROMPT seconds of the end of sending it. --no-verify skips the check of a wss:// server's certificate
(a self-signed one).

The echo server has no commands, so the checks that need the server to act
(fragments, pings or closes sent by the server) are run in the other
direction only: by sockeye's client against server.py.
"""

import argparse
import asyncio
import contextlib
import random
import ssl
import sys
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Opcode

from payloads import compressible_text

CHECK_TIMEOUT = 10.0
LARGE = 1 << 20
BURST = 100
FRAGMENTED_TEXT = "fragmented: héllo wörld, € 中文 ✓, 𝄞 😀 and the end"
FRAGMENTED_BINARY_LEN = 70_000
# The largest message (and frame) this client accepts in the limit checks:
# the echo of a message of exactly the server's limit may come back a little
# longer than the message when the server's deflate used stored blocks.
LIMIT_RECEIVE_MAX = 32 << 20
# How soon, in seconds, the Close 1009 must follow the end of sending a
# message one byte over the limit: the server has only the last bytes left
# to inflate.
PROMPT = 5.0


def noise(length):
    """Bytes that do not compress: a fixed pseudo-random sequence."""
    return random.Random(0x5EED).randbytes(length)


def large_text(length):
    """Exactly `length` bytes of text mixing characters of every UTF-8 length."""
    pieces = ["sockeye ", "héllo ", "wörld ", "€ ", "中文 ", "𝄞 "]
    parts = []
    size = 0
    for byte in noise(length):
        piece = pieces[byte % len(pieces)]
        piece_size = len(piece.encode())
        if size + piece_size > length:
            break
        parts.append(piece)
        size += piece_size
    return "".join(parts) + "." * (length - size)


def pattern(length):
    """Byte i is i mod 256."""
    return bytes(i % 256 for i in range(length))


def describe(message):
    kind = "text" if isinstance(message, str) else "binary"
    data = message.encode() if isinstance(message, str) else message
    out = f"{kind} message of {len(data)} bytes"
    if len(data) <= 64:
        out += f" {message!r}"
    return out


def same(expected, got):
    if type(expected) is type(got) and expected == got:
        return
    why = f"expected {describe(expected)}, got {describe(got)}"
    a = expected.encode() if isinstance(expected, str) else expected
    b = got.encode() if isinstance(got, str) else got
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            why += f" (first difference at byte {i})"
            break
    raise AssertionError(why)


async def echo(ws, message):
    await ws.send(message)
    same(message, await ws.recv())


def open_connection(options, protocols=None, max_size=16 << 20):
    """Connects, offering permessage-deflate (the default) and `protocols`,
    accepting messages of up to `max_size` bytes."""
    tls = {}
    if options.url.startswith("wss:") and not options.verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        tls = {"ssl": context}
    return connect(
        options.url,
        subprotocols=protocols,
        compression="deflate",
        max_size=max_size,
        ping_interval=None,
        open_timeout=CHECK_TIMEOUT,
        close_timeout=CHECK_TIMEOUT,
        **tls,
    )


def record_sent_frames(ws):
    """The list to which each data frame's RSV1 bit and payload length, as
    permessage-deflate encoded it, is appended from now on (the frame as it
    goes on the wire, which the public API does not show)."""
    sent = []
    for extension in ws.protocol.extensions:
        if isinstance(extension, PerMessageDeflate):
            encode = extension.encode

            def recording(frame, encode=encode):
                frame = encode(frame)
                if frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                    sent.append((frame.rsv1, len(frame.data)))
                return frame

            extension.encode = recording
            return sent
    raise AssertionError("permessage-deflate was not agreed")


@contextlib.asynccontextmanager
async def limit_connection(options):
    """A connection of its own for a limit check, accepting messages of up to
    LIMIT_RECEIVE_MAX bytes. Closing it at the end may fail inside
    websockets when the server closed it in the middle of a send (an
    AttributeError from the asyncio transport): that is not what the check
    is about, and must not hide what it found."""
    ws = await open_connection(options, max_size=LIMIT_RECEIVE_MAX)
    try:
        yield ws
    finally:
        with contextlib.suppress(Exception):
            await ws.close()


async def echo_compressed(options, message, longer):
    """Sends `message` on a connection of its own, checks that it went out
    compressed in one frame, and that it comes back intact. `longer`: random
    bytes, which deflate lengthens (stored blocks add 5 bytes each), so the
    frame must be longer than the message; else compressible ones, so the
    frame must be less than half of it."""
    async with limit_connection(options) as ws:
        sent = record_sent_frames(ws)
        await ws.send(message)
        size = len(message.encode() if isinstance(message, str) else message)
        if len(sent) != 1 or not sent[0][0]:
            raise AssertionError(f"sent frames (RSV1, length) {sent}, expected one compressed")
        frame = sent[0][1]
        compressed = frame > size if longer else frame * 2 < size
        if not compressed:
            expected = "longer than the message" if longer else "less than half of it"
            raise AssertionError(
                f"sent a frame of {frame} bytes for a message of {size}, expected {expected}"
            )
        same(message, await ws.recv())


def closed_by_server(exc):
    """The server's close code and reason from a ConnectionClosed."""
    if exc.rcvd is None:
        raise AssertionError(f"no Close frame from the server: {exc}") from exc
    return exc.rcvd.code, exc.rcvd.reason


async def expect_close(ws):
    """Waits for the server's Close; a message arriving first is an error."""
    try:
        message = await ws.recv()
    except ConnectionClosed as exc:
        return closed_by_server(exc)
    raise AssertionError(f"got {describe(message)} instead of a Close")


class Checks:
    """Runs the checks, printing one line each."""

    def __init__(self, options):
        self.options = options
        self.passed = 0
        self.failed = 0
        self.shared = None

    def record(self, name, error=None):
        if error is None:
            self.passed += 1
            print(f"ok {name}", flush=True)
        else:
            self.failed += 1
            why = str(error) or type(error).__name__
            print(f"FAILED {name}: {why}", flush=True)

    async def check(self, name, body):
        """A check on the shared connection, opened again after a failure."""
        try:
            if self.shared is None:
                self.shared = await asyncio.wait_for(open_connection(self.options), CHECK_TIMEOUT)
            await asyncio.wait_for(body(self.shared), CHECK_TIMEOUT)
        except Exception as error:
            if isinstance(error, TimeoutError):
                error = f"no answer within {CHECK_TIMEOUT} s"
            if self.shared is not None:
                self.shared.transport.abort()
            self.shared = None
            self.record(name, error)
        else:
            self.record(name)

    async def alone(self, name, body):
        """A check on a connection of its own."""
        try:
            await asyncio.wait_for(body(), CHECK_TIMEOUT)
        except Exception as error:
            if isinstance(error, TimeoutError):
                error = f"no answer within {CHECK_TIMEOUT} s"
            self.record(name, error)
        else:
            self.record(name)

    async def limit_checks(self):
        """The checks at the server's limit (--limit-checks), each on a
        connection of its own that accepts LIMIT_RECEIVE_MAX bytes."""
        options = self.options
        limit = options.server_max_size
        await self.alone(
            "limit-echo-binary-random", lambda: echo_compressed(options, noise(limit), True)
        )
        await self.alone(
            "limit-echo-text-compressible",
            lambda: echo_compressed(options, compressible_text(limit), False),
        )

        async def over_by_one():
            message = noise(limit + 1)
            async with limit_connection(options) as ws:
                # The server may close before it has read the whole message,
                # so a failed send is not yet a failed check: its Close is.
                try:
                    await ws.send(message)
                except ConnectionClosed:
                    pass
                sent = time.monotonic()
                code, reason = await expect_close(ws)
                elapsed = time.monotonic() - sent
                if code != 1009:
                    raise AssertionError(f"expected 1009, got {code} {reason!r}")
                if elapsed > PROMPT:
                    raise AssertionError(
                        f"closed with 1009 {elapsed:.1f} s after the end of sending, over {PROMPT} s"
                    )

        await self.alone("limit-over-by-one-1009", over_by_one)

    async def run(self):
        options = self.options
        try:
            self.shared = await asyncio.wait_for(open_connection(options), CHECK_TIMEOUT)
        except Exception as error:
            self.record("handshake", error)
            self.record("deflate-negotiated", "no connection to check")
        else:
            self.record("handshake")
            header = self.shared.response.headers.get("Sec-WebSocket-Extensions", "")
            in_header = "permessage-deflate" in header
            in_force = any(e.name == "permessage-deflate" for e in self.shared.protocol.extensions)
            if in_header == options.server_deflate and in_force == options.server_deflate:
                self.record("deflate-negotiated")
            else:
                state = "on" if options.server_deflate else "off"
                self.record(
                    "deflate-negotiated",
                    f"server deflate {state}, but Sec-WebSocket-Extensions has "
                    f"permessage-deflate: {in_header}, in force: {in_force}",
                )

        if options.limit_checks:
            if self.shared is not None:
                try:
                    await asyncio.wait_for(self.shared.close(), CHECK_TIMEOUT)
                except Exception:
                    self.shared.transport.abort()
                self.shared = None
            await self.limit_checks()
            return

        echoes = [
            ("echo-text-ascii", "Hello, WebSocket!"),
            ("echo-text-utf8-2byte", "héllo wörld ñ ß"),
            ("echo-text-utf8-3byte", "€ 中文 ✓ ☃"),
            ("echo-text-utf8-4byte", "𝄞 😀 🦀 𐍈"),
            ("echo-text-empty", ""),
            ("echo-binary-all-bytes", pattern(256)),
            ("echo-binary-empty", b""),
            ("echo-binary-1mib", noise(LARGE)),
            ("echo-text-1mib", large_text(LARGE)),
        ]
        for name, message in echoes:
            await self.check(name, lambda ws, message=message: echo(ws, message))

        async def burst(ws):
            messages = [
                f"burst message {i} ✓" if i % 2 == 0 else bytes([i % 256]) * i
                for i in range(BURST)
            ]
            for message in messages:
                await ws.send(message)
            for i, expected in enumerate(messages):
                try:
                    same(expected, await ws.recv())
                except AssertionError as error:
                    raise AssertionError(f"message {i}: {error}") from None

        await self.check("echo-burst-100", burst)

        # websockets sends text fragments as str, so they are cut between
        # characters; each item of the list is one frame.
        async def fragments(ws, message):
            step = -(-len(message) // 4)
            await ws.send([message[i : i + step] for i in range(0, len(message), step)])
            same(message, await ws.recv())

        await self.check("fragmented-text-sent", lambda ws: fragments(ws, FRAGMENTED_TEXT))
        await self.check(
            "fragmented-binary-sent", lambda ws: fragments(ws, pattern(FRAGMENTED_BINARY_LEN))
        )

        # websockets completes the waiter only for a Pong with the same payload.
        async def ping(ws):
            pong = await ws.ping("websockets ping ✓".encode())
            await pong

        await self.check("ping-client", ping)

        async def close_4000(ws):
            await ws.close(4000, "bye")
            if (ws.close_code, ws.close_reason) != (4000, "bye"):
                raise AssertionError(
                    f"the server answered with {ws.close_code} {ws.close_reason!r}, not 4000 'bye'"
                )

        await self.check("close-client-4000", close_4000)
        self.shared = None

        async def too_big():
            async with open_connection(options) as ws:
                # The server may close before it has read the whole message,
                # so a failed send is not yet a failed check: its Close is.
                try:
                    await ws.send(noise(options.server_max_size + 1))
                except ConnectionClosed:
                    pass
                code, reason = await expect_close(ws)
                if code != 1009:
                    raise AssertionError(f"expected 1009, got {code} {reason!r}")

        await self.alone("close-too-big-1009", too_big)

        async def agreed():
            async with open_connection(options, ["nope", "chat", "superchat"]) as ws:
                if ws.subprotocol != "chat":
                    raise AssertionError(f'expected "chat", got {ws.subprotocol!r}')
                await echo(ws, "chat works")

        await self.alone("subprotocol-agreed", agreed)

        async def none():
            async with open_connection(options, ["nope"]) as ws:
                if ws.subprotocol is not None:
                    raise AssertionError(f"expected none, got {ws.subprotocol!r}")
                header = ws.response.headers.get("Sec-WebSocket-Protocol")
                if header is not None:
                    raise AssertionError(f"expected no Sec-WebSocket-Protocol, got {header!r}")
                await echo(ws, "no subprotocol works")

        await self.alone("subprotocol-none", none)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--server-deflate", choices=["on", "off"], default="on")
    parser.add_argument("--server-max-size", type=int, default=2 * 1024 * 1024)
    parser.add_argument("--limit-checks", action="store_true")
    parser.add_argument("--no-verify", dest="verify", action="store_false")
    options = parser.parse_args()
    options.server_deflate = options.server_deflate == "on"
    checks = Checks(options)
    asyncio.run(checks.run())
    sys.exit(0 if checks.failed == 0 and checks.passed > 0 else 1)


if __name__ == "__main__":
    main()
