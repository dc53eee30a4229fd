"""An echo server on the ``websockets`` package, for sockeye's client to be
checked against (examples/interop-client.rs runs the checks).

    python server.py [--no-deflate] [--max-size BYTES]

It listens on 127.0.0.1 at a port the OS picks and prints
``listening on ws://127.0.0.1:PORT`` on stdout once ready. It runs until it
is sent SIGTERM or SIGINT.

- permessage-deflate is accepted unless --no-deflate.
- Messages over --max-size bytes (default 2 MiB) close with 1009.
- Subprotocols supported: "superchat" and "chat". Of those the client
  offers, the first in the client's order is agreed; with none of them
  offered, the connection opens without a subprotocol.
- Keepalive pings are off: the only pings sent are those asked for below.

Every message is echoed as it came (text as text, binary as binary), except
text messages that start with "\\x01cmd ", which are commands. Payloads in
commands and their answers are lowercase hex:

    \\x01cmd fragment-text TEXT   answer TEXT as a text message of several
                                  frames (cut between characters: websockets
                                  sends text fragments as str)
    \\x01cmd fragment-binary N    answer N bytes (byte i is i mod 256) as a
                                  binary message of several frames
    \\x01cmd ping HEX             send a Ping with that payload, then answer
                                  "pong HEX" with the payload of the Pong that
                                  came back, or "no-pong" after 5 s
    \\x01cmd last-ping            answer "last-ping HEX" with the payload of
                                  the last Ping received, or "no-ping"
    \\x01cmd close CODE REASON    close with that code and reason (the rest of
                                  the line, may be empty)
    \\x01cmd send-random N        answer N random bytes as one binary message
                                  in one frame (compressed when
                                  permessage-deflate is agreed), then "sent
                                  CRC FRAME": the CRC-32 of those bytes (as
                                  zlib computes it, 8 hex digits) and the
                                  payload length of the frame that carried
                                  them
    \\x01cmd send-compressible N  the same with N bytes of text that
                                  compresses well, sent as one text message:
                                  the lines "I sockeye héllo wörld € 中文 𝄞"
                                  (each ending with "\\n") for I = 0, 1, 2,
                                  ..., as many whole lines as fit, then dots
    \\x01cmd last-close           answer "last-close CODE" with the code of the
                                  last Close frame received from a client
                                  (1005: one without a code), or "no-close"

An unknown command is answered "unknown-command".
"""

import argparse
import asyncio
import random
import signal
import zlib

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, ProtocolError
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Close, Opcode

from payloads import compressible_text

COMMAND = "\x01cmd "
SUPPORTED_PROTOCOLS = ["superchat", "chat"]
PONG_WAIT = 5.0
# How many frames a fragmented answer is cut into.
FRAGMENTS = 4


class RecordingConnection(ServerConnection):
    """A connection that remembers the payloads of the control frames it
    receives, and the payload length of the data frames it sends, which the
    public API does not report."""

    # The code of the last Close frame received on any connection, for the
    # `last-close` command.
    last_close = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.last_ping = None
        self.pongs = asyncio.Queue()
        self.sent_frames = None

    def process_event(self, event):
        if self.request is not None:
            if event.opcode is Opcode.PING:
                self.last_ping = bytes(event.data)
            elif event.opcode is Opcode.PONG:
                self.pongs.put_nowait(bytes(event.data))
            elif event.opcode is Opcode.CLOSE:
                try:
                    code = Close.parse(event.data).code if event.data else 1005
                except ProtocolError:
                    code = None
                if code is not None:
                    RecordingConnection.last_close = code
        super().process_event(event)

    async def send_measured(self, message):
        """Sends `message` in one frame, then "sent CRC FRAME" with the
        payload length of that frame as permessage-deflate encoded it."""
        if self.sent_frames is None:
            self.sent_frames = []
            for extension in self.protocol.extensions:
                if isinstance(extension, PerMessageDeflate):
                    encode = extension.encode

                    def recording(frame, encode=encode):
                        frame = encode(frame)
                        if frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                            self.sent_frames.append(len(frame.data))
                        return frame

                    extension.encode = recording
        data = message.encode() if isinstance(message, str) else message
        self.sent_frames.clear()
        await self.send(message)
        # Without permessage-deflate, the frame carries the data as it is.
        frame = self.sent_frames[0] if self.sent_frames else len(data)
        await self.send(f"sent {zlib.crc32(data):08x} {frame}")


def choose_protocol(connection, offered):
    """The first protocol in the client's order that this server supports."""
    for protocol in offered:
        if protocol in SUPPORTED_PROTOCOLS:
            return protocol
    return None


def pieces(data, count):
    """Cuts a str or bytes into at most `count` non-empty pieces, in order."""
    step = max(1, -(-len(data) // count))
    return [data[start : start + step] for start in range(0, len(data), step)] or [data]


async def run_command(ws, line):
    name, _, rest = line.partition(" ")
    if name == "fragment-text":
        await ws.send(pieces(rest, FRAGMENTS))
    elif name == "fragment-binary":
        data = bytes(i % 256 for i in range(int(rest)))
        await ws.send(pieces(data, FRAGMENTS))
    elif name == "ping":
        while not ws.pongs.empty():
            ws.pongs.get_nowait()
        await ws.ping(bytes.fromhex(rest))
        try:
            pong = await asyncio.wait_for(ws.pongs.get(), PONG_WAIT)
        except TimeoutError:
            await ws.send("no-pong")
        else:
            await ws.send(f"pong {pong.hex()}")
    elif name == "last-ping":
        if ws.last_ping is None:
            await ws.send("no-ping")
        else:
            await ws.send(f"last-ping {ws.last_ping.hex()}")
    elif name == "close":
        code, _, reason = rest.partition(" ")
        await ws.close(int(code), reason)
    elif name == "send-random":
        await ws.send_measured(random.randbytes(int(rest)))
    elif name == "send-compressible":
        await ws.send_measured(compressible_text(int(rest)))
    elif name == "last-close":
        if RecordingConnection.last_close is None:
            await ws.send("no-close")
        else:
            await ws.send(f"last-close {RecordingConnection.last_close}")
    else:
        await ws.send("unknown-command")


async def handler(ws):
    try:
        async for message in ws:
            if isinstance(message, str) and message.startswith(COMMAND):
                await run_command(ws, message[len(COMMAND) :])
            else:
                await ws.send(message)
    except ConnectionClosed:
        # Closing with a code other than 1000 or 1001 (4000, 1009) is how
        # the checks end; websockets reports it as an exception.
        pass


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-deflate", action="store_true")
    parser.add_argument("--max-size", type=int, default=2 * 1024 * 1024)
    args = parser.parse_args()

    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.cancel)

    async with serve(
        handler,
        "127.0.0.1",
        0,
        compression=None if args.no_deflate else "deflate",
        max_size=args.max_size,
        subprotocols=SUPPORTED_PROTOCOLS,
        select_subprotocol=choose_protocol,
        ping_interval=None,
        create_connection=RecordingConnection,
    ) as server:
        host, port = server.sockets[0].getsockname()[:2]
        print(f"listening on ws://{host}:{port}", flush=True)
        try:
            await stop
        except asyncio.CancelledError:
            pass


if __name__ == "__main__":
    asyncio.run(main())
