// Checks sockeye-io's support for socket.io-client 2.x (Engine.IO v3, Socket.IO protocol v4)
// against crates/io/examples/socketio-interop-server.rs started with --eio3: connecting to `/`
// (which the server does unasked) and to a namespace with query auth, refusals (middleware and
// unknown namespace), socket ids as Node gives v2 clients, events with acks both ways, binary
// both ways, rooms and broadcasts, server-side disconnect, the client-driven heartbeat, and each
// transport setting (polling then upgrade, polling only, WebSocket only).
//
// Usage: node socketio-v2-client.mjs URL
// Prints `ok NAME` or `FAILED NAME: WHY` per check; exits 1 if any failed.

import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const io = require("socket.io-client");

const URL = process.argv[2] ?? "http://127.0.0.1:3000";
// Every wait ends within this many milliseconds, or the check fails.
const WAIT_LIMIT = 8000;
// How long a check waits to be sure that something does not arrive.
const QUIET = 300;
// The interop server's ping interval plus timeout: a v2 client that stays connected past a few
// of these has had its pings answered.
const HEARTBEAT = 1000;

let failures = 0;
const sockets = new Set();

function connect(nsp = "/", options = {}) {
  const socket = io(URL + nsp, { forceNew: true, reconnection: false, ...options });
  sockets.add(socket);
  return socket;
}

function limited(promise, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_LIMIT);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

function next(socket, event) {
  return limited(new Promise((resolve) => socket.once(event, (...args) => resolve(args))), event);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Resolves once connected; a refusal (`error` in 2.x) or an Engine.IO failure rejects.
function connected(socket) {
  if (socket.connected) return Promise.resolve(socket);
  return limited(
    new Promise((resolve, reject) => {
      socket.once("connect", () => resolve(socket));
      socket.once("error", (data) => reject(new Error(`refused: ${JSON.stringify(data)}`)));
      socket.once("connect_error", (error) => reject(new Error(`connect_error: ${error}`)));
    }),
    "the connection",
  );
}

// Emits with an acknowledgement callback and resolves with all of its arguments.
function ack(socket, event, ...args) {
  return limited(new Promise((resolve) => socket.emit(event, ...args, (...reply) => resolve(reply))), `the ack of ${event}`);
}

// Collects `event` on `socket` until read.
function collect(socket, event) {
  const seen = [];
  socket.on(event, (...args) => seen.push(args));
  return seen;
}

async function check(name, body) {
  try {
    await body();
    console.log(`ok ${name}`);
  } catch (error) {
    failures += 1;
    console.log(`FAILED ${name}: ${error?.stack ?? error}`);
  } finally {
    for (const socket of sockets) socket.close();
    sockets.clear();
  }
}

// Every transport setting: the default (polling, then upgrade), polling only, WebSocket only.
const TRANSPORTS = [
  ["polling then websocket", {}],
  ["polling only", { transports: ["polling"] }],
  ["websocket only", { transports: ["websocket"] }],
];

for (const [mode, options] of TRANSPORTS) {
  await check(`${mode}: the server connects / unasked, id is the session id`, async () => {
    const socket = connect("/", options);
    const auth = next(socket, "auth");
    await connected(socket);
    assert.equal(socket.id, socket.io.engine.id);
    assert.deepEqual((await auth)[0], {});
  });

  await check(`${mode}: events with acks keep every argument type`, async () => {
    const socket = await connected(connect("/", options));
    const args = ["text", 42, 1.5, true, null, { nested: { list: [1, "two"] } }, [3, 4], "é😀"];
    assert.deepEqual(await ack(socket, "echo", ...args), args);
  });

  await check(`${mode}: binary both ways`, async () => {
    const socket = await connected(connect("/", options));
    const bytes = Buffer.from([0, 1, 2, 128, 255]);
    const [back, label] = await ack(socket, "echo", bytes, "label");
    assert.ok(Buffer.isBuffer(back), "a Buffer comes back");
    assert.deepEqual([...back], [...bytes]);
    assert.equal(label, "label");
    const [upload] = await ack(socket, "binary");
    assert.equal(upload.name, "a.bin");
    assert.deepEqual([...upload.body], [0, 1, 2, 255]);
  });

  await check(`${mode}: the server's emit with an ack gets the client's answer`, async () => {
    const socket = await connected(connect("/", options));
    socket.on("question", (data, answer) => answer({ answered: data }));
    assert.deepEqual(await ack(socket, "ask", "why"), [{ answered: "why" }]);
  });
}

await check("the default transport upgrades to websocket", async () => {
  const socket = connect("/");
  const upgraded = limited(new Promise((resolve) => socket.io.engine.once("upgrade", resolve)), "the upgrade");
  await connected(socket);
  await upgraded;
  assert.equal(socket.io.engine.transport.name, "websocket");
  assert.deepEqual(await ack(socket, "echo", "after upgrade"), ["after upgrade"]);
});

await check("a namespace takes its auth from the query; id is nsp#session", async () => {
  const socket = connect("/admin", { query: { token: "secret" } });
  const welcome = next(socket, "welcome");
  await connected(socket);
  assert.deepEqual(await welcome, ["admin"]);
  assert.equal(socket.id, `/admin#${socket.io.engine.id}`);
});

await check("a middleware refusal gives the client its data", async () => {
  const socket = connect("/admin", { query: { token: "wrong" } });
  const [data] = await next(socket, "error");
  assert.deepEqual(data, { code: 403 });
  assert.equal(socket.connected, false);
});

await check("an unknown namespace is refused with a string", async () => {
  const socket = connect("/nowhere");
  const [data] = await next(socket, "error");
  assert.equal(data, "Invalid namespace");
});

await check("a dynamic namespace connects", async () => {
  const socket = connect("/dyn-42");
  const [greeting] = await next(socket, "hello");
  assert.equal(greeting, "/dyn-42");
});

await check("rooms and broadcasts reach the right sockets only", async () => {
  const [a, b, c] = await Promise.all([1, 2, 3].map(() => connected(connect("/"))));
  await ack(a, "join", "room-1");
  await ack(b, "join", "room-1");
  assert.deepEqual((await ack(a, "rooms"))[0], [a.id, "room-1"].sort());
  const inRoom = [collect(a, "room-message"), collect(b, "room-message"), collect(c, "room-message")];
  c.emit("to-room", "room-1", "hi room");
  await sleep(QUIET);
  assert.deepEqual(inRoom.map((seen) => seen.length), [1, 1, 0]);
  assert.deepEqual(inRoom[0][0], ["hi room"]);
  const everyone = [collect(a, "broadcast-message"), collect(b, "broadcast-message"), collect(c, "broadcast-message")];
  a.emit("broadcast", { all: true });
  await sleep(QUIET);
  assert.deepEqual(everyone.map((seen) => seen.length), [0, 1, 1]);
});

await check("a server-side disconnect reaches the client", async () => {
  const socket = await connected(connect("/"));
  const reason = next(socket, "disconnect");
  socket.emit("kick");
  assert.deepEqual(await reason, ["io server disconnect"]);
});

for (const [mode, options] of TRANSPORTS.slice(1)) {
  await check(`${mode}: the client's pings keep the session alive`, async () => {
    const socket = await connected(connect("/", options));
    const pongs = collect(socket, "pong");
    const dropped = collect(socket, "disconnect");
    await sleep(3 * HEARTBEAT);
    assert.deepEqual(dropped, []);
    assert.ok(pongs.length >= 2, `${pongs.length} pongs`);
    assert.deepEqual(await ack(socket, "echo", "still here"), ["still here"]);
  });
}

console.log(failures === 0 ? "all socket.io-client 2.x checks passed" : `${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
