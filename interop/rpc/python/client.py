"""jsonrpc-websocket (aiohttp) as a client of `interop-peer serve` (sockeye-rpc).

Calls by position and by name, errors, notifications in order, calls in flight at once, a
subscription, and the server calling this client back: `ask_client` makes the server call
a handler registered here (sync and async), `notify_client` makes it send a notification.
jsonrpc-websocket numbers its calls with UUID strings, so every answer also checks that
sockeye-rpc echoes string ids.

    python client.py ws://127.0.0.1:PORT/

Prints one line per check, `ok NAME` or `FAILED NAME: WHY`; exits with 0 only when every
check passed.
"""

import asyncio
import logging
import sys

from jsonrpc_base import ProtocolError
from jsonrpc_websocket import Server

CHECK_TIMEOUT = 10


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    async def run(self, name, body):
        try:
            await asyncio.wait_for(body(), CHECK_TIMEOUT)
        except Exception as exc:  # every failure is a failed check
            self.failed += 1
            print(f"FAILED {name}: {type(exc).__name__}: {exc}", flush=True)
        else:
            self.passed += 1
            print(f"ok {name}", flush=True)


def same(got, want, what="value"):
    # Python's 7 == 7.0 hides a float where an integer was sent: compare the types too.
    if got != want or type(got) is not type(want):
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


async def error_of(call):
    """The ProtocolError a call fails with: (code, message, the whole response)."""
    try:
        result = await call
    except ProtocolError as exc:
        return exc.args
    raise AssertionError(f"a result ({result!r}) where an error was expected")


async def main(url):
    # jsonrpc-base logs the traceback of every exception a handler raises: client_fail's is
    # expected.
    logging.getLogger("jsonrpc_base").setLevel(logging.CRITICAL)
    checks = Checks()
    server = Server(url, timeout=CHECK_TIMEOUT)
    client_notes = asyncio.Queue()
    ticks = asyncio.Queue()

    def client_add(a, b):
        return a + b

    async def client_mul(a, b):
        await asyncio.sleep(0.01)
        return a * b

    def client_fail():
        raise ValueError("the client says no")

    def client_note(*args, **kwargs):
        client_notes.put_nowait(list(args) or kwargs)

    def tick(subscription, result):
        ticks.put_nowait((subscription, result))

    server.client_add = client_add
    server.client_mul = client_mul
    server.client_fail = client_fail
    server.client_note = client_note
    server.tick = tick
    reader = await server.ws_connect()

    async def subtract_by_position():
        same(await server.subtract(42, 23), 19)

    async def subtract_by_name():
        same(await server.subtract(minuend=42, subtrahend=23), 19)

    nested = {"text": "héllo € 中文 𝄞", "list": [1, -2.5, True, None, {"deep": []}], "big": 2**53 - 1}

    async def echo():
        same(await server.echo(**nested), nested)

    async def sum_():
        same(await server.sum(1, 2, 4), 7)
        same(await server.sum(1, 2, 3.5), 6.5)

    async def fail():
        code, message, response = await error_of(server.fail())
        same((code, message), (42, "no luck"))
        same(response["error"].get("data"), {"why": "asked to"}, "error data")

    async def unknown():
        code, _, _ = await error_of(server.no_such_method())
        same(code, -32601)

    async def notifications():
        await server.note("first", _notification=True)
        await server.note(n=2, _notification=True)
        # sockeye-rpc handles notifications in order among themselves, but a request that
        # follows one may be answered before its handler ran: ask until both are there.
        notes = []
        for _ in range(100):
            notes = await server.notes()
            if len(notes) >= 2:
                break
            await asyncio.sleep(0.02)
        same(notes, [["first"], {"n": 2}])

    async def in_flight():
        slow, fast = await asyncio.gather(server.sleep(200), server.subtract(10, 3))
        same((slow, fast), (200, 7))

    async def ask_client():
        same(await server.ask_client(method="client_add", params=[2, 3]), 5)
        same(await server.ask_client(method="client_mul", params=[6, 7]), 42)

    async def client_error():
        # jsonrpc-websocket answers any exception of a handler with -32000 and
        # "Server Error: <exception>": it cannot send an application code.
        code, message, _ = await error_of(server.ask_client(method="client_fail"))
        same(code, -32000)
        if "the client says no" not in message:
            raise AssertionError(f"message {message!r}")

    async def notify_client():
        same(await server.notify_client(method="client_note", params=["hi", 1]), True)
        same(await asyncio.wait_for(client_notes.get(), 5), ["hi", 1])

    async def subscription():
        sub = await server.subscribe_ticks(3)
        got = [await asyncio.wait_for(ticks.get(), 5) for _ in range(3)]
        same(got, [(sub, 0), (sub, 1), (sub, 2)])
        same(await server.unsubscribe_ticks(sub), True)
        same(await server.unsubscribe_ticks(sub), False)

    await checks.run("subtract by position", subtract_by_position)
    await checks.run("subtract by name", subtract_by_name)
    await checks.run("echo of a nested value", echo)
    await checks.run("sum of integers and of floats", sum_)
    await checks.run("application error with data", fail)
    await checks.run("unknown method is -32601", unknown)
    await checks.run("notifications handled in order, not answered", notifications)
    await checks.run("calls in flight at once, matched by id", in_flight)
    await checks.run("server calls the client back (sync and async handlers)", ask_client)
    await checks.run("the client's error reaches the server", client_error)
    await checks.run("server notifies the client", notify_client)
    await checks.run("subscription: items as notifications, then unsubscribed", subscription)

    await server.close()
    reader.cancel()
    print(f"jsonrpc-websocket client: {checks.passed} passed, {checks.failed} failed")
    return 0 if checks.failed == 0 and checks.passed > 0 else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python client.py ws://HOST:PORT/", file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(main(sys.argv[1])))
