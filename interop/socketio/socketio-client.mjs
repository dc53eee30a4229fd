// Checks sockeye-io's Socket.IO server (crates/io/examples/socketio-interop-server.rs) with the
// official socket.io-client 4.8: connect with auth and refused, every argument type, acks both
// ways with and without timeouts, rooms and broadcasts reaching the right clients only,
// volatile, static and dynamic namespaces, disconnect reasons on both sides, reconnection after
// a forced transport close, and each transport setting (polling then upgrade, WebSocket only,
// polling only).
//
// Usage: node socketio-client.mjs URL [--msgpack]
// Prints `ok NAME` or `FAILED NAME: WHY` per check; exits 1 if any failed.

import assert from "node:assert/strict";
import { io } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";

const URL = process.argv[2] ?? "http://localhost:3000";
const MSGPACK = process.argv.includes("--msgpack");
// Every check ends within this many milliseconds, or fails.
const CHECK_LIMIT = 8000;
// How long a check waits to be sure that something does not arrive.
const QUIET = 300;

let failures = 0;
const open = new Set();

function connect(nsp = "/", options = {}) {
  const socket = io(URL + nsp, {
    forceNew: true,
    reconnection: false,
    ...(MSGPACK ? { parser: msgpackParser } : {}),
    ...options,
  });
  open.add(socket);
  return socket;
}

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

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function connected(socket) {
  if (socket.connected) return socket;
  const outcome = await withLimit(
    new Promise((resolve) => {
      socket.once("connect", () => resolve(null));
      socket.once("connect_error", (error) => resolve(error));
    }),
    "the connection",
  );
  if (outcome) throw new Error(`connect_error: ${outcome.message}`);
  return socket;
}

// Emits `event` and resolves with every argument of its acknowledgement (emitWithAck gives
// only the first).
function ack(socket, event, ...args) {
  return withLimit(
    new Promise((resolve, reject) =>
      socket.timeout(CHECK_LIMIT).emit(event, ...args, (error, ...reply) => (error ? reject(error) : resolve(reply))),
    ),
    `the ack of ${event}`,
  );
}

// Buffers come back as Buffer (Node) whichever parser; compare them as bytes.
function normalize(value) {
  if (value instanceof ArrayBuffer) return Buffer.from(new Uint8Array(value));
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
  }
  return value;
}

async function check(name, body) {
  try {
    await withLimit(body(), name);
    console.log(`ok ${name}`);
  } catch (error) {
    failures += 1;
    console.log(`FAILED ${name}: ${error.message ?? error}`);
  } finally {
    for (const socket of open) socket.disconnect();
    open.clear();
  }
}

const checks = {
  async "connect with auth"() {
    const socket = connect("/", { auth: { token: "abc", n: 1 } });
    const auth = once(socket, "auth");
    await connected(socket);
    assert.deepEqual((await auth)[0], { token: "abc", n: 1 });
    assert.ok(socket.id && socket.id.length > 0);
  },

  async "refused connect carries message and data"() {
    const socket = connect("/admin", { auth: { token: "wrong" } });
    const [error] = await once(socket, "connect_error");
    assert.equal(error.message, "not authorized");
    assert.deepEqual(error.data, { code: 403 });
    const admitted = connect("/admin", { auth: { token: "secret" } });
    const welcome = once(admitted, "welcome");
    await connected(admitted);
    assert.equal((await welcome)[0], "admin");
  },

  async "every argument type round-trips"() {
    const socket = await connected(connect());
    const args = [
      "text with ünïcode \u{1F980}",
      42,
      -1.5,
      null,
      true,
      { nested: { list: [1, "two", { three: [false] }] } },
      [],
      Buffer.from([0, 1, 2, 255]),
      { file: Buffer.from("inside an object"), list: [Buffer.from([9])] },
    ];
    const back = await ack(socket, "echo", ...args);
    assert.deepEqual(normalize(back), normalize(args));
  },

  async "a typed reply holds a buffer"() {
    const socket = await connected(connect());
    const [reply] = await ack(socket, "binary");
    assert.equal(reply.name, "a.bin");
    assert.deepEqual(normalize(reply.body), Buffer.from([0, 1, 2, 255]));
  },

  async "acks from the server to the client, and their timeout"() {
    const socket = await connected(connect());
    socket.on("question", (data, reply) => reply({ answer: data * 2 }));
    assert.deepEqual(await ack(socket, "ask", 21), [{ answer: 42 }]);
    socket.off("question");
    socket.on("question", () => {}); // never answers
    const [late] = await ack(socket, "ask", 1);
    assert.match(late.error, /timeout/i);
  },

  async "the client's ack timeout fires when no ack comes"() {
    const socket = await connected(connect());
    await assert.rejects(socket.timeout(200).emitWithAck("no-such-event"), /timed out|timeout/i);
  },

  async "rooms and broadcasts reach the right clients only"() {
    const [a, b, c] = await Promise.all([connect(), connect(), connect()].map(connected));
    await ack(a, "join", "red");
    await ack(b, "join", "red");
    const seen = { a: [], b: [], c: [] };
    for (const [name, s] of Object.entries({ a, b, c })) {
      s.on("room-message", (data) => seen[name].push(["room", data]));
      s.on("broadcast-message", (data) => seen[name].push(["all", data]));
    }
    // One at a time: messages from different senders may cross.
    const roomMessage = once(b, "room-message");
    a.emit("to-room", "red", "for red");
    await roomMessage;
    const broadcasts = Promise.all([once(a, "broadcast-message"), once(b, "broadcast-message")]);
    c.emit("broadcast", "for all");
    await broadcasts;
    await sleep(QUIET);
    assert.deepEqual(seen.a, [["all", "for all"]]);
    assert.deepEqual(seen.b, [["room", "for red"], ["all", "for all"]]);
    assert.deepEqual(seen.c, []);
    const [rooms] = await ack(b, "rooms");
    assert.deepEqual(rooms, ["red", b.id].sort());
    await ack(b, "leave", "red");
    a.emit("to-room", "red", "again");
    await sleep(QUIET);
    assert.equal(seen.b.length, 2);
  },

  async "volatile events arrive on a writable connection"() {
    const socket = await connected(connect("/", { transports: ["websocket"] }));
    const got = once(socket, "volatile-message");
    socket.emit("volatile", "maybe");
    assert.deepEqual(await got, ["maybe"]);
  },

  async "static and dynamic namespaces"() {
    const dynamic = connect("/dyn-123");
    const hello = once(dynamic, "hello");
    await connected(dynamic);
    assert.deepEqual(await hello, ["/dyn-123"]);
    const refused = connect("/dyn-abc");
    const [error] = await once(refused, "connect_error");
    assert.equal(error.message, "Invalid namespace");
  },

  async "disconnect reasons on both sides"() {
    const monitor = await connected(connect("/monitor"));
    const reasons = [];
    monitor.on("disconnected", (info) => reasons.push(info));

    const kicked = await connected(connect());
    const kickedId = kicked.id;
    const clientSide = once(kicked, "disconnect");
    kicked.emit("kick");
    assert.equal((await clientSide)[0], "io server disconnect");

    const leaving = await connected(connect());
    const leavingId = leaving.id;
    leaving.disconnect();

    const dropped = await connected(connect("/", { transports: ["websocket"] }));
    const droppedId = dropped.id;
    dropped.io.engine.close();

    await withLimit(
      (async () => {
        while (reasons.length < 3) await sleep(20);
      })(),
      "three disconnect reports",
    );
    const byId = Object.fromEntries(reasons.map((r) => [r.id, r.reason]));
    assert.equal(byId[kickedId], "server namespace disconnect");
    assert.equal(byId[leavingId], "client namespace disconnect");
    assert.equal(byId[droppedId], "transport close");
  },

  async "reconnects after a forced transport close"() {
    const socket = connect("/", { reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100 });
    await connected(socket);
    const firstId = socket.id;
    const gone = once(socket, "disconnect");
    socket.io.engine.close();
    assert.equal((await gone)[0], "forced close");
    await once(socket, "connect");
    assert.notEqual(socket.id, firstId);
    assert.deepEqual(await ack(socket, "echo", "after"), ["after"]);
  },

  async "polling only"() {
    const socket = await connected(connect("/", { transports: ["polling"] }));
    assert.equal(socket.io.engine.transport.name, "polling");
    assert.deepEqual(normalize(await ack(socket, "echo", "p", Buffer.from([1, 2]))), ["p", Buffer.from([1, 2])]);
    await sleep(1200); // two heartbeats at 500 ms
    assert.ok(socket.connected);
  },

  async "WebSocket only"() {
    const socket = await connected(connect("/", { transports: ["websocket"] }));
    assert.equal(socket.io.engine.transport.name, "websocket");
    assert.deepEqual(await ack(socket, "echo", "w"), ["w"]);
  },

  async "upgrade from polling"() {
    const socket = connect("/");
    // The engine exists once the manager opens; the upgrade cannot come before.
    const opened = new Promise((resolve) =>
      socket.io.once("open", () => {
        const initial = socket.io.engine.transport.name;
        socket.io.engine.once("upgrade", () => resolve(initial));
      }),
    );
    await connected(socket);
    assert.equal(await withLimit(opened, "the upgrade"), "polling");
    assert.equal(socket.io.engine.transport.name, "websocket");
    assert.deepEqual(await ack(socket, "echo", "u"), ["u"]);
  },
};

for (const [name, body] of Object.entries(checks)) {
  await check(MSGPACK ? `${name} (msgpack)` : name, body);
}
process.exit(failures === 0 ? 0 : 1);
