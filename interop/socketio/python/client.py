"""Checks sockeye-io's Socket.IO server with python-socketio's asyncio client.

A second, independent client implementation next to socket.io-client
(``socketio-client.mjs``), against the same server
(``crates/io/examples/socketio-interop-server.rs``): connect with auth and
refused, every argument type (bytes inside objects too), acks both ways with
timeouts, rooms and broadcasts reaching the right clients only, volatile,
static and dynamic namespaces, disconnect reasons on both sides,
reconnection after a dropped transport, and each transport setting (polling
then upgrade, WebSocket only, polling only).

Usage: python client.py URL [--msgpack]

Prints ``ok NAME`` or ``FAILED NAME: WHY`` per check, then a summary line;
exits 1 if any check failed.
"""

import asyncio
import sys

import socketio

URL = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:3000"
MSGPACK = "--msgpack" in sys.argv[2:]
# Every check ends within this many seconds, or fails.
CHECK_LIMIT = 8.0
# How long a check waits for one thing to happen (below CHECK_LIMIT, so that
# the failure names what it waited for).
WAIT_LIMIT = 6.0
# How long a check waits to be sure that something does not arrive.
QUIET = 0.3
# How long connect() waits for the namespaces to answer; the client's own
# default (1 s) is tight on a loaded machine.
CONNECT_WAIT = 5.0


# What the server reports when the client's disconnect() leaves "/". With
# msgpack, python-socketio sends DISCONNECT as {type: 1, data: nil, nsp: "/"},
# which socket.io-msgpack-parser rejects ("invalid payload": a DISCONNECT
# carries no data); Node's server then closes the connection, and so reports
# "forced close", as sockeye-io must too.
LEAVING_REASON = "forced close" if MSGPACK else "client namespace disconnect"


class CheckFailed(Exception):
    """A check saw something other than what it expected."""


def expect(condition, what):
    """Fails the running check with WHAT unless CONDITION holds."""
    if not condition:
        raise CheckFailed(what)


def expect_equal(got, want, what):
    """Fails the running check unless GOT equals WANT."""
    if got != want:
        raise CheckFailed(f"{what}: got {got!r}, want {want!r}")


class Peer:
    """One python-socketio client (one Engine.IO session) and what it saw.

    Events named in ``record`` are kept per event name so that a check can
    wait for one or assert that none came.
    """

    def __init__(self, record=(), reconnection=False):
        # Reconnection delays short enough for a check's time limit.
        self.sio = socketio.AsyncClient(
            reconnection=reconnection,
            reconnection_delay=0.05,
            reconnection_delay_max=0.1,
            serializer="msgpack" if MSGPACK else "default",
        )
        self.seen = {}
        self.disconnect_reasons = []
        for event in record:
            self._record(event)
        self.sio.on("disconnect", self._on_disconnect)

    def _record(self, event, namespace="/"):
        def handler(*args):
            self.seen.setdefault(event, []).append(list(args))

        self.sio.on(event, handler, namespace=namespace)

    def _on_disconnect(self, reason):
        self.disconnect_reasons.append(reason)

    async def connect(self, namespace="/", **options):
        """Connects and waits for the namespace, or raises ConnectionError."""
        await self.sio.connect(
            URL,
            namespaces=[namespace],
            wait_timeout=CONNECT_WAIT,
            **options,
        )
        return self

    async def wait_for(self, event, count=1):
        """Waits until COUNT events named EVENT came; returns their args."""
        await until(lambda: len(self.seen.get(event, [])) >= count, event)
        return self.seen[event][count - 1]

    async def wait_disconnect(self):
        """Waits for the client's disconnect event; returns its reason."""
        await until(lambda: self.disconnect_reasons, "the disconnect event")
        return self.disconnect_reasons[0]

    def sid(self, namespace="/"):
        """The socket's id in NAMESPACE, as the server gave it."""
        return self.sio.get_sid(namespace)

    async def call(self, event, *args, namespace="/", timeout=CHECK_LIMIT):
        """Emits EVENT with ARGS and returns every argument of its ack."""
        reply = await self.sio.call(
            event, tuple(args), namespace=namespace, timeout=timeout)
        # call() unwraps one argument and returns None for none.
        if reply is None:
            return []
        if isinstance(reply, tuple):
            return list(reply)
        return [reply]

    async def close(self):
        """Disconnects, stops any reconnection, and ends a session left open.

        A session whose namespaces all failed is still connected at the
        Engine.IO level.
        """
        await self.sio.shutdown()
        if self.sio.eio.state == "connected":
            await self.sio.eio.disconnect()


open_peers = []


def peer(record=(), reconnection=False):
    """A new client, disconnected when the running check ends."""
    created = Peer(record, reconnection)
    open_peers.append(created)
    return created


def normalize(value):
    """Makes byte-like values comparable whichever parser decoded them."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (list, tuple)):
        return [normalize(item) for item in value]
    if isinstance(value, dict):
        return {key: normalize(item) for key, item in value.items()}
    return value


async def check_connect_with_auth():
    """Requirement: connect with auth; the server sees the handshake's auth."""
    client = peer(record=["auth"])
    await client.connect(auth={"token": "abc", "n": 1})
    expect_equal((await client.wait_for("auth"))[0], {"token": "abc", "n": 1},
                 "auth the server saw")
    expect(client.sid(), "the socket has an id")


async def check_refused_connect():
    """Requirement: a refused connect carries the middleware's message and data."""
    refused = peer()
    errors = []
    refused.sio.on("connect_error", lambda *args: errors.append(args),
                   namespace="/admin")
    try:
        await refused.connect("/admin", auth={"token": "wrong"})
    except socketio.exceptions.ConnectionError:
        pass
    else:
        raise CheckFailed("a wrong token connected to /admin")
    expect(errors, "connect_error was not raised")
    expect_equal(errors[0][0], {"message": "not authorized", "data": {"code": 403}},
                 "the refusal")

    admitted = peer()
    welcome = []
    admitted.sio.on("welcome", welcome.append, namespace="/admin")
    await admitted.connect("/admin", auth={"token": "secret"})
    await until(lambda: welcome, "the welcome event")
    expect_equal(welcome[0], "admin", "welcome")


async def check_argument_types():
    """Requirement: every argument type round-trips, bytes inside objects too."""
    client = await peer().connect()
    args = [
        "text with \u00fcn\u00efcode \U0001F980",
        42,
        -1.5,
        None,
        True,
        {"nested": {"list": [1, "two", {"three": [False]}]}},
        [],
        b"\x00\x01\x02\xff",
        {"file": b"inside an object", "list": [b"\x09"]},
    ]
    back = await client.call("echo", *args)
    expect_equal(normalize(back), normalize(args), "echoed arguments")


async def check_typed_reply():
    """Requirement: a reply made of a Rust struct carries a buffer field."""
    client = await peer().connect()
    [reply] = await client.call("binary")
    expect_equal(normalize(reply), {"name": "a.bin", "body": b"\x00\x01\x02\xff"},
                 "reply")


async def check_server_acks():
    """Requirement: acks from the server to the client, and their timeout."""
    client = await peer().connect()
    slow = {"on": False}

    async def question(data):
        if slow["on"]:
            # Answers after the server's 500 ms limit: the server must have
            # given up already and must ignore this late ack.
            await asyncio.sleep(0.8)
        return {"answer": data * 2}

    client.sio.on("question", question)
    expect_equal(await client.call("ask", 21), [{"answer": 42}], "answer")
    slow["on"] = True
    [late] = await client.call("ask", 1)
    expect(isinstance(late, dict) and "timeout" in str(late.get("error", "")).lower(),
           f"the server's ack timeout was not reported: {late!r}")
    await asyncio.sleep(0.6)
    expect_equal(await client.call("echo", "still here"), ["still here"],
                 "echo after a late ack")


async def check_client_ack_timeout():
    """Requirement: the client's ack timeout fires when no ack comes."""
    client = await peer().connect()
    try:
        await client.sio.call("no-such-event", timeout=0.2)
    except socketio.exceptions.TimeoutError:
        return
    raise CheckFailed("an unknown event was acknowledged")


async def check_rooms():
    """Requirement: rooms and broadcasts reach the right clients only."""
    events = ["room-message", "broadcast-message"]
    a, b, c = [peer(record=events) for _ in range(3)]
    await asyncio.gather(a.connect(), b.connect(), c.connect())
    await a.call("join", "red")
    await b.call("join", "red")
    # One at a time: messages from different senders may cross.
    await a.sio.emit("to-room", ("red", "for red"))
    await b.wait_for("room-message")
    await c.sio.emit("broadcast", "for all")
    await a.wait_for("broadcast-message")
    await b.wait_for("broadcast-message")
    await asyncio.sleep(QUIET)
    expect_equal(a.seen, {"broadcast-message": [["for all"]]}, "a saw")
    expect_equal(b.seen, {"room-message": [["for red"]],
                          "broadcast-message": [["for all"]]}, "b saw")
    expect_equal(c.seen, {}, "c saw")
    expect_equal(await b.call("rooms"), [sorted(["red", b.sid()])], "b's rooms")
    await b.call("leave", "red")
    await a.sio.emit("to-room", ("red", "again"))
    await asyncio.sleep(QUIET)
    expect_equal(len(b.seen["room-message"]), 1, "room messages after leaving")


async def check_volatile():
    """Requirement: volatile events arrive on a writable connection."""
    client = await peer(record=["volatile-message"]).connect(transports=["websocket"])
    await client.sio.emit("volatile", "maybe")
    expect_equal(await client.wait_for("volatile-message"), ["maybe"], "volatile")


async def check_namespaces():
    """Requirement: static and dynamic namespaces; unknown ones are refused."""
    dynamic = peer()
    hello = []
    dynamic.sio.on("hello", hello.append, namespace="/dyn-123")
    await dynamic.connect("/dyn-123")
    await until(lambda: hello, "the hello event")
    expect_equal(hello[0], "/dyn-123", "hello")

    refused = peer()
    errors = []
    refused.sio.on("connect_error", lambda *args: errors.append(args),
                   namespace="/dyn-abc")
    try:
        await refused.connect("/dyn-abc")
    except socketio.exceptions.ConnectionError:
        pass
    else:
        raise CheckFailed("/dyn-abc connected")
    expect(errors, "connect_error was not raised")
    expect_equal(errors[0][0], {"message": "Invalid namespace"}, "the refusal")


async def check_disconnect_reasons():
    """Requirement: disconnect reasons on both sides.

    A server kick reaches the client as "server disconnect" (python-socketio's
    name for it); the monitor namespace reports the server-side reasons of a
    kick, a client disconnect and a closed transport.
    """
    monitor = peer()
    reports = []
    monitor.sio.on("disconnected", reports.append, namespace="/monitor")
    await monitor.connect("/monitor")

    kicked = await peer().connect()
    kicked_id = kicked.sid()
    await kicked.sio.emit("kick")
    expect_equal(await kicked.wait_disconnect(), kicked.sio.reason.SERVER_DISCONNECT,
                 "the kicked client's reason")

    # Over WebSocket, python-socketio's disconnect() closes the socket while
    # its DISCONNECT packet is still queued, so the packet is never sent
    # ("Cannot write to closing transport") and the server rightly sees a
    # transport close. Over polling the packet goes out first.
    leaving = await peer().connect(transports=["polling"])
    leaving_id = leaving.sid()
    await leaving.sio.disconnect()

    dropped = await peer().connect(transports=["websocket"])
    dropped_id = dropped.sid()
    # Closes the Engine.IO session without leaving the namespace first.
    await dropped.sio.eio.disconnect()

    await until(lambda: len(reports) >= 3, "three disconnect reports")
    by_id = {report["id"]: report["reason"] for report in reports}
    expect_equal(by_id.get(kicked_id), "server namespace disconnect", "kick")
    expect_equal(by_id.get(leaving_id), LEAVING_REASON, "disconnect()")
    expect_equal(by_id.get(dropped_id), "transport close", "engine close")


async def check_reconnect():
    """Requirement: the client reconnects after its transport drops.

    The WebSocket is closed under the Engine.IO client, as a broken network
    would; python-socketio sees a transport error and opens a new session,
    in which the socket gets a new id and events flow again.
    """
    client = peer(reconnection=True)
    connects = []
    client.sio.on("connect", lambda: connects.append(client.sio.get_sid("/")))
    await client.connect(transports=["websocket"])
    first_id = client.sid()
    await client.sio.eio.ws.close()
    expect_equal(await client.wait_disconnect(), client.sio.reason.TRANSPORT_ERROR,
                 "the client's reason")
    await until(lambda: len(connects) >= 2, "the reconnection")
    expect(connects[1] != first_id, "the socket kept its id after reconnecting")
    expect_equal(await client.call("echo", "after"), ["after"], "echo after reconnecting")


async def check_polling_only():
    """Requirement: the polling transport alone carries events and heartbeats."""
    client = await peer().connect(transports=["polling"])
    expect_equal(client.sio.transport(), "polling", "transport")
    back = await client.call("echo", "p", b"\x01\x02")
    expect_equal(normalize(back), ["p", b"\x01\x02"], "echo")
    await asyncio.sleep(1.2)  # two heartbeats at 500 ms
    expect(client.sio.connected, "disconnected during the heartbeats")
    expect_equal(await client.call("echo", "later"), ["later"], "echo after heartbeats")


async def check_websocket_only():
    """Requirement: the WebSocket transport alone carries events."""
    client = await peer().connect(transports=["websocket"])
    expect_equal(client.sio.transport(), "websocket", "transport")
    back = await client.call("echo", "w", b"\x03")
    expect_equal(normalize(back), ["w", b"\x03"], "echo")


async def check_upgrade():
    """Requirement: a polling session upgrades to WebSocket and goes on."""
    client = await peer().connect()
    await until(lambda: client.sio.transport() == "websocket", "the upgrade")
    expect_equal(await client.call("echo", "u"), ["u"], "echo after the upgrade")


async def until(condition, what, step=0.02):
    """Polls CONDITION until it holds, or fails naming WHAT it waited for."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_LIMIT
    while not condition():
        if loop.time() > deadline:
            raise CheckFailed(f"timed out waiting for {what}")
        await asyncio.sleep(step)


CHECKS = [
    ("connect with auth", check_connect_with_auth),
    ("refused connect carries message and data", check_refused_connect),
    ("every argument type round-trips", check_argument_types),
    ("a typed reply holds a buffer", check_typed_reply),
    ("acks from the server to the client, and their timeout", check_server_acks),
    ("the client's ack timeout fires when no ack comes", check_client_ack_timeout),
    ("rooms and broadcasts reach the right clients only", check_rooms),
    ("volatile events arrive on a writable connection", check_volatile),
    ("static and dynamic namespaces", check_namespaces),
    ("disconnect reasons on both sides", check_disconnect_reasons),
    ("reconnects after a dropped transport", check_reconnect),
    ("polling only", check_polling_only),
    ("WebSocket only", check_websocket_only),
    ("upgrade from polling", check_upgrade),
]


async def run_check(name, body):
    """Runs one check within CHECK_LIMIT; returns whether it passed."""
    try:
        await asyncio.wait_for(body(), CHECK_LIMIT)
        print(f"ok {name}", flush=True)
        return True
    except asyncio.TimeoutError:
        print(f"FAILED {name}: timed out after {CHECK_LIMIT:.0f} s", flush=True)
    except Exception as error:  # noqa: BLE001 - every failure is reported by name
        print(f"FAILED {name}: {type(error).__name__}: {error}", flush=True)
    finally:
        for created in open_peers:
            try:
                await asyncio.wait_for(created.close(), 2)
            except Exception:  # noqa: BLE001 - a broken peer must not stop the run
                pass
        open_peers.clear()
    return False


async def main():
    suffix = " (msgpack)" if MSGPACK else ""
    passed = failed = 0
    for name, body in CHECKS:
        if await run_check(f"python-socketio: {name}{suffix}", body):
            passed += 1
        else:
            failed += 1
    print(f"python-socketio: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
