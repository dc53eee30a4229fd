// Checks connection state recovery with the official socket.io-client 4.8 against
// crates/io/examples/socketio-interop-server.rs started with --recovery: a client whose
// transport is closed under it reconnects with `recovered` true, its id and rooms back, and
// every event sent to it meanwhile arrives, in order; over WebSocket and over polling.
//
// Usage: node recovery.mjs URL
// Prints `ok NAME` or `FAILED NAME: WHY` per check; exits 1 if any failed.

import assert from "node:assert/strict";
import { io } from "socket.io-client";

const URL = process.argv[2] ?? "http://localhost:3000";
// Every check ends within this many milliseconds, or fails.
const CHECK_LIMIT = 8000;
// How many events are sent while the client is away.
const MISSED = 20;

let failures = 0;

function withLimit(promise, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), CHECK_LIMIT);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

function once(socket, event) {
  return withLimit(new Promise((resolve) => socket.once(event, (...args) => resolve(args))), event);
}

function ack(socket, event, ...args) {
  return withLimit(
    new Promise((resolve, reject) =>
      socket.timeout(CHECK_LIMIT).emit(event, ...args, (error, ...reply) => (error ? reject(error) : resolve(reply))),
    ),
    `the ack of ${event}`,
  );
}

async function recovers(transports) {
  const opened = [];
  try {
    const a = io(URL, {
      forceNew: true,
      transports,
      reconnectionDelay: 300,
      reconnectionDelayMax: 300,
    });
    const b = io(URL, { forceNew: true, transports });
    opened.push(a, b);
    // The greeting is numbered: the client then has an offset to come back with.
    await Promise.all([once(a, "auth"), once(b, "connect")]);
    assert.equal(a.recovered, false);
    const ticks = [];
    a.on("tick", (i) => ticks.push(i));
    await ack(a, "join", "red");
    const firstId = a.id;

    const lost = once(a, "disconnect");
    a.io.engine.close();
    await lost;
    await ack(b, "send-to", firstId, MISSED);
    b.emit("to-room", "red", "while away");
    const roomMessage = once(a, "room-message");

    await once(a, "connect");
    assert.equal(a.recovered, true, "recovered");
    assert.equal(a.id, firstId, "same id");
    assert.equal((await roomMessage)[0], "while away");
    await withLimit(
      (async () => {
        while (ticks.length < MISSED) await new Promise((r) => setTimeout(r, 10));
      })(),
      "the missed ticks",
    );
    assert.deepEqual(ticks, Array.from({ length: MISSED }, (_, i) => i));
    const [me] = await ack(a, "whoami");
    assert.deepEqual(me, { id: firstId, recovered: true });
    const [rooms] = await ack(a, "rooms");
    assert.ok(rooms.includes("red"), `rooms ${rooms}`);
  } finally {
    for (const socket of opened) socket.disconnect();
  }
}

for (const [name, transports] of [
  ["recovery over WebSocket", ["websocket"]],
  ["recovery over polling", ["polling"]],
]) {
  try {
    await withLimit(recovers(transports), name);
    console.log(`ok ${name}`);
  } catch (error) {
    failures += 1;
    console.log(`FAILED ${name}: ${error.message ?? error}`);
  }
}
process.exit(failures === 0 ? 0 : 1);
