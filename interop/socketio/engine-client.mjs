// Checks sockeye-io's Engine.IO test server (crates/io/examples/socketio-test-server.rs)
// with the official engine.io-client: polling then upgrade, WebSocket only, polling only.
// On each: text and binary messages come back as sent, the session survives several
// heartbeats (300 ms ping interval), and a client-side close ends it cleanly.
//
// Usage: node engine-client.mjs URL   (e.g. http://localhost:3000)
// Prints `ok NAME` or `FAILED NAME: WHY` per check; exits 1 if any failed.

import { Socket } from "engine.io-client";

const URL = process.argv[2] ?? "http://localhost:3000";
// Every check ends within this many milliseconds, or fails.
const CHECK_LIMIT = 5000;
// Long enough for three pings at the test server's 300 ms interval.
const HEARTBEAT_WAIT = 1000;

let failures = 0;

function report(name, error) {
  if (error) {
    failures += 1;
    console.log(`FAILED ${name}: ${error.message ?? error}`);
  } else {
    console.log(`ok ${name}`);
  }
}

function withLimit(promise, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), CHECK_LIMIT);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

function once(socket, event) {
  return new Promise((resolve) => socket.once(event, (...args) => resolve(args)));
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Sends `data` and waits for the echo; the echo must equal it in kind and content.
async function echo(socket, data) {
  const reply = once(socket, "message");
  socket.send(data);
  const [received] = await withLimit(reply, "an echo");
  if (typeof data === "string") {
    if (received !== data) throw new Error(`text echo ${JSON.stringify(received)} != ${JSON.stringify(data)}`);
    return;
  }
  if (typeof received === "string") throw new Error("binary came back as text");
  const bytes = Buffer.from(received instanceof ArrayBuffer ? new Uint8Array(received) : received);
  if (!bytes.equals(data)) throw new Error(`binary echo ${bytes.toString("hex")} != ${data.toString("hex")}`);
}

async function openSocket(options) {
  const socket = new Socket(URL, options);
  socket.on("error", () => {});
  const [opened] = await withLimit(
    Promise.race([once(socket, "open"), once(socket, "close").then(([reason]) => Promise.reject(new Error(`closed: ${reason}`)))]),
    "the open",
  );
  void opened;
  return socket;
}

async function exchange(socket, expectedTransport) {
  if (socket.transport.name !== expectedTransport) {
    throw new Error(`transport ${socket.transport.name}, expected ${expectedTransport}`);
  }
  await echo(socket, "hello");
  await echo(socket, "héllo \u{1F980} with unicode");
  await echo(socket, Buffer.from([1, 2, 3, 4]));
  await echo(socket, Buffer.alloc(100_000, 7));
}

async function survivesHeartbeats(socket) {
  let closed = null;
  socket.once("close", (reason) => (closed = reason));
  await sleep(HEARTBEAT_WAIT);
  if (closed) throw new Error(`closed during heartbeats: ${closed}`);
  await echo(socket, "still here");
}

async function closes(socket) {
  const closed = once(socket, "close");
  socket.close();
  const [reason] = await withLimit(closed, "the close");
  if (reason !== "forced close") throw new Error(`close reason ${reason}`);
}

async function check(name, body) {
  try {
    await body();
    report(name);
  } catch (error) {
    report(name, error);
  }
}

await check("polling-then-upgrade", async () => {
  const socket = await openSocket({ transports: ["polling", "websocket"] });
  try {
    await exchange(socket, "polling");
    if (socket.transport.name !== "websocket") await withLimit(once(socket, "upgrade"), "the upgrade");
    await exchange(socket, "websocket");
    await survivesHeartbeats(socket);
    await closes(socket);
  } finally {
    socket.close();
  }
});

await check("websocket-only", async () => {
  const socket = await openSocket({ transports: ["websocket"] });
  try {
    await exchange(socket, "websocket");
    await survivesHeartbeats(socket);
    await closes(socket);
  } finally {
    socket.close();
  }
});

await check("polling-only", async () => {
  const socket = await openSocket({ transports: ["polling"], upgrade: false });
  try {
    await exchange(socket, "polling");
    await survivesHeartbeats(socket);
    if (socket.transport.name !== "polling") throw new Error("left polling");
    await closes(socket);
  } finally {
    socket.close();
  }
});

await check("burst-over-polling", async () => {
  // Many messages sent at once go out in few POSTs and come back in order.
  const socket = await openSocket({ transports: ["polling"], upgrade: false });
  try {
    const received = [];
    const all = new Promise((resolve) =>
      socket.on("message", (data) => {
        received.push(data);
        if (received.length === 50) resolve();
      }),
    );
    for (let i = 0; i < 50; i++) socket.send(`m${i}`);
    await withLimit(all, "50 echoes");
    const expected = Array.from({ length: 50 }, (_, i) => `m${i}`);
    if (received.join() !== expected.join()) throw new Error(`order: ${received.slice(0, 5).join()}...`);
    await closes(socket);
  } finally {
    socket.close();
  }
});

console.log(failures === 0 ? "all engine.io-client checks passed" : `${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
