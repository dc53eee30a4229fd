// The Redis Streams adapter against Node: a redis-server of its own (free loopback port, no
// persistence), two sockeye-io servers (crates/io-redis/examples/streams-server.rs, path in
// SOCKEYE_SERVER) and one Node socket.io 4.8 server on @socket.io/redis-streams-adapter 0.3,
// all with connection state recovery on.
//
// (a) The mixed cluster: broadcasts and a room's broadcasts, from a sockeye server and from the
//     Node one, reach the clients of both (socket.io-client on each); fetchSockets and
//     serverSideEmit with acks (over pub/sub, as the adapter's 0.3 sends them) from both sides.
// (b) Recovery across servers: CLIENTS (200) socket.io-clients (WebSocket) connect through a
//     loopback TCP proxy to sockeye server A; server B broadcasts numbered events; A is killed
//     with SIGKILL mid-stream and the proxy then routes new connections to B. Every client must
//     reconnect with `recovered` true and hold every number exactly once, in order.
// (c) The same with 20 clients of a third sockeye server, which come back on the Node server
//     once the numbers have ended: a session a sockeye server keeps is one Node's adapter
//     restores, with every packet missed from the stream.
//
// Every process it starts is stopped by its PID; the run stops itself after LIMIT_MS.
import { spawn } from "node:child_process";
import { createServer, connect as tcpConnect } from "node:net";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";
import { io as connectClient } from "socket.io-client";

const LIMIT_MS = 120_000;
const CLIENTS = Number(process.env.CLIENTS ?? 200);
const NUMBERS = Number(process.env.NUMBERS ?? 400);
const SOCKEYE = process.env.SOCKEYE_SERVER;
if (!SOCKEYE) throw new Error("SOCKEYE_SERVER names the streams-server example");

const children = [];
let passed = 0;
let failed = 0;
function stopAll() {
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
}
process.on("exit", stopAll);
setTimeout(() => {
  console.error(`the checks did not end within ${LIMIT_MS} ms`);
  stopAll();
  process.exit(1);
}, LIMIT_MS).unref();

function check(name, ok, detail) {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${ok || detail === undefined ? "" : ": " + JSON.stringify(detail)}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function start(command, args, ready) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${command} did not start: ${out}`)), 15_000);
    const onData = (chunk) => {
      out += chunk;
      if (out.includes(ready)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

// Waits until `cond()` holds, polling, at most `ms`.
async function until(cond, ms) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(20);
  }
  return true;
}

function client(port, opts = {}) {
  return connectClient(`http://127.0.0.1:${port}`, {
    transports: ["websocket"],
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    ...opts,
  });
}

function connected(socket) {
  return new Promise((resolve) => socket.once("connect", resolve));
}

// A loopback TCP proxy whose target can change; `cut()` ends every connection it carries.
function proxy(target) {
  const open = new Set();
  const srv = createServer((down) => {
    const up = tcpConnect(state.target, "127.0.0.1");
    open.add(down);
    open.add(up);
    const close = () => {
      down.destroy();
      up.destroy();
      open.delete(down);
      open.delete(up);
    };
    down.on("error", close).on("close", close);
    up.on("error", close).on("close", close);
    down.pipe(up);
    up.pipe(down);
  });
  const state = {
    target,
    listen: () => new Promise((r) => srv.listen(0, "127.0.0.1", () => r(srv.address().port))),
    cut: () => {
      for (const s of open) s.destroy();
    },
    close: () => srv.close(),
  };
  return state;
}

// ---- the cluster

const redisPort = await freePort();
await start(
  "redis-server",
  ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
  "Ready to accept connections",
);
const url = `redis://127.0.0.1:${redisPort}`;
const [portA, portB, portN] = [await freePort(), await freePort(), await freePort()];
const serverA = await start(SOCKEYE, [String(portA), url], "listening on");
await start(SOCKEYE, [String(portB), url], "listening on");

const redis = createClient({ url });
redis.on("error", () => {});
await redis.connect();
const nodeIo = new Server(portN, {
  adapter: createAdapter(redis),
  connectionStateRecovery: { maxDisconnectionDuration: 120_000 },
});
nodeIo.on("connection", (socket) => {
  for (const room of socket.handshake.auth.rooms ?? []) socket.join(room);
});
nodeIo.on("whoami", (cb) => cb("node"));

// ---- (a) the mixed cluster

{
  const heard = new Map();
  const mk = async (name, port, rooms) => {
    const s = client(port, { auth: { rooms } });
    heard.set(name, []);
    s.onAny((event, ...args) => heard.get(name).push([event, args[0], args[args.length - 1]]));
    await connected(s);
    return s;
  };
  const onA = await mk("A", portA, ["red"]);
  const onB = await mk("B", portB, []);
  const onN = await mk("N", portN, ["red"]);
  await sleep(1500); // every reader follows the stream by now
  const got = (name, event, data) => heard.get(name).some(([e, d]) => e === event && d === data);

  onB.emit("emit", { event: "hello", data: "from-sockeye" });
  await until(() => ["A", "B", "N"].every((n) => got(n, "hello", "from-sockeye")), 5000);
  for (const n of ["A", "B", "N"]) check(`a sockeye broadcast reaches the client on ${n}`, got(n, "hello", "from-sockeye"), heard.get(n));

  nodeIo.emit("hello", "from-node");
  await until(() => ["A", "B", "N"].every((n) => got(n, "hello", "from-node")), 5000);
  for (const n of ["A", "B", "N"]) check(`a Node broadcast reaches the client on ${n}`, got(n, "hello", "from-node"), heard.get(n));

  onB.emit("emit", { to: ["red"], event: "room", data: "sockeye-red" });
  nodeIo.to("red").emit("room", "node-red");
  await until(() => ["A", "N"].every((n) => got(n, "room", "sockeye-red") && got(n, "room", "node-red")), 5000);
  await sleep(300);
  for (const n of ["A", "N"]) {
    check(`a sockeye room broadcast reaches the room's client on ${n}`, got(n, "room", "sockeye-red"), heard.get(n));
    check(`a Node room broadcast reaches the room's client on ${n}`, got(n, "room", "node-red"), heard.get(n));
  }
  check("room broadcasts skip the client outside the room", !heard.get("B").some(([e]) => e === "room"), heard.get("B"));
  const isId = (o) => typeof o === "string" && /^[0-9]+-[0-9]+$/.test(o);
  for (const n of ["A", "N"]) {
    const offsets = heard.get(n).filter(([e]) => e === "hello").map(([, , o]) => o);
    check(`the client on ${n} gets a stream id as offset with every broadcast`, offsets.length === 2 && offsets.every(isId), offsets);
  }

  // Requests that wait for answers, over pub/sub, from either side.
  const everyone = [onA.id, onB.id, onN.id].sort();
  const fromNode = (await nodeIo.fetchSockets()).map((s) => s.id).sort();
  check("node: fetchSockets finds the sockets of every server", JSON.stringify(fromNode) === JSON.stringify(everyone), fromNode);
  const fromSockeye = (await onA.timeout(10_000).emitWithAck("fetch")).sort();
  check("sockeye: fetchSockets finds the sockets of every server", JSON.stringify(fromSockeye) === JSON.stringify(everyone), fromSockeye);
  const nodeAsked = (await nodeIo.serverSideEmitWithAck("whoami")).sort();
  check("node: serverSideEmitWithAck gets both sockeye servers' replies",
    JSON.stringify(nodeAsked) === JSON.stringify([`sockeye:${portA}`, `sockeye:${portB}`].sort()), nodeAsked);
  const sockeyeAsked = await onA.timeout(10_000).emitWithAck("ask");
  check("sockeye: serverSideEmitWithAck gets the other servers' replies, Node's included",
    sockeyeAsked.complete === true &&
      JSON.stringify([...sockeyeAsked.replies].sort()) === JSON.stringify(["node", `sockeye:${portB}`].sort()),
    sockeyeAsked);
  for (const s of [onA, onB, onN]) s.disconnect();
}

// ---- (b) recovery across servers through a proxy

{
  const front = proxy(portA);
  const frontPort = await front.listen();
  const clients = [];
  for (let i = 0; i < CLIENTS; i++) {
    const s = client(frontPort);
    const c = { socket: s, numbers: [], reconnects: 0, recovered: null };
    s.on("n", (n) => c.numbers.push(n));
    s.on("connect", () => {
      if (c.connectedOnce) {
        c.reconnects++;
        c.recovered = s.recovered;
      }
      c.connectedOnce = true;
    });
    clients.push(c);
  }
  const allIn = await until(() => clients.every((c) => c.connectedOnce), 20_000);
  check(`${CLIENTS} clients connected to A through the proxy`, allIn);
  await sleep(1000);

  const control = client(portB);
  await connected(control);
  control.emit("numbers", { count: NUMBERS, every_ms: 10 });
  await until(() => clients[0].numbers.length >= NUMBERS / 4, 20_000);
  serverA.kill("SIGKILL");
  front.target = portB;
  front.cut();
  console.log(`A killed (SIGKILL) after ${clients[0].numbers.length} numbers; the proxy now leads to B`);

  await until(() => clients.every((c) => c.numbers.length >= NUMBERS), 60_000);
  await sleep(500);
  let recovered = 0;
  let lost = 0;
  let duplicated = 0;
  let reordered = 0;
  for (const c of clients) {
    if (c.reconnects > 0 && c.recovered === true) recovered++;
    const seen = new Set(c.numbers);
    for (let n = 1; n <= NUMBERS; n++) if (!seen.has(n)) lost++;
    duplicated += c.numbers.length - seen.size;
    for (let i = 1; i < c.numbers.length; i++) if (c.numbers[i] < c.numbers[i - 1]) reordered++;
  }
  console.log(`clients recovered: ${recovered}/${CLIENTS}, packets lost: ${lost}, duplicated: ${duplicated}, reordered: ${reordered}`);
  check("every client reconnected with recovered true", recovered === CLIENTS, { recovered });
  check("no packet lost", lost === 0, { lost });
  check("no packet twice", duplicated === 0, { duplicated });
  check("no packet out of order", reordered === 0, { reordered });
  for (const c of clients) c.socket.disconnect();
  control.disconnect();
  front.close();
}

// ---- (c) a client of a dead sockeye server recovers on the Node server

{
  const portC = await freePort();
  const serverC = await start(SOCKEYE, [String(portC), url], "listening on");
  const front = proxy(portC);
  const frontPort = await front.listen();
  const count = 20;
  const clients = [];
  for (let i = 0; i < count; i++) {
    const s = client(frontPort);
    const c = { socket: s, numbers: [], recovered: null, once: false };
    s.on("n", (n) => c.numbers.push(n));
    s.on("connect", () => {
      if (c.once) c.recovered = s.recovered;
      c.once = true;
    });
    clients.push(c);
  }
  check(`${count} clients connected to sockeye server C`, await until(() => clients.every((c) => c.once), 20_000));
  await sleep(1000);
  const control = client(portB);
  const heardByControl = [];
  control.on("n", (n) => heardByControl.push(n));
  await connected(control);
  const total = 200;
  control.emit("numbers", { count: total, every_ms: 10 });
  await until(() => clients[0].numbers.length >= total / 4, 20_000);
  serverC.kill("SIGKILL");
  front.cut();
  // Node's adapter reads a restore's entries apart from its live reader, so that a packet
  // arriving during a restore can be lost or handed over twice there (its issue #26): the
  // clients come back once the stream has ended, and the restore alone must give them all
  // they missed, from the session and the stream a sockeye server wrote.
  await until(() => heardByControl.length >= total, 20_000);
  front.target = portN;
  await until(() => clients.every((c) => c.numbers.length >= total), 20_000);
  await sleep(300);
  let recovered = 0;
  let lost = 0;
  let reordered = 0;
  for (const c of clients) {
    if (c.recovered === true) recovered++;
    const seen = new Set(c.numbers);
    for (let n = 1; n <= total; n++) if (!seen.has(n)) lost++;
    for (let i = 1; i < c.numbers.length; i++) if (c.numbers[i] <= c.numbers[i - 1]) reordered++;
  }
  console.log(`on the Node server: clients recovered: ${recovered}/${count}, packets lost: ${lost}, reordered or twice: ${reordered}`);
  check("clients of a killed sockeye server recover on the Node server", recovered === count, { recovered });
  check("and miss nothing", lost === 0 && reordered === 0, { lost, reordered });
  for (const c of clients) c.socket.disconnect();
  control.disconnect();
  front.close();
}

nodeIo.close();
await redis.quit().catch(() => {});
console.log(`${passed} passed, ${failed} failed`);
stopAll();
process.exit(failed === 0 ? 0 : 1);
