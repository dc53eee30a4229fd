// sockeye-io-nats with real socket.io-client 4.8 clients: a nats-server -js of its own (free
// loopback port, storage in a fresh temporary directory) and three sockeye-io servers
// (crates/io-nats/examples/nats-cluster-server.rs, path in SOCKEYE_SERVER) on it, with
// connection state recovery through JetStream.
//
// (a) The cluster: broadcasts and a room's broadcasts reach the clients of every server, with
//     the stream sequence as offset; fetchSockets, a remote join, serverSideEmit with acks, a
//     broadcast with acks, all rooms and the server count span the three servers.
// (b) Recovery across servers: CLIENTS (200) socket.io-clients (WebSocket) connect through a
//     loopback TCP proxy to server A; server C broadcasts numbered events; A is killed with
//     SIGKILL mid-stream and the proxy then leads new connections to B and C in turn. Every
//     client must reconnect with `recovered` true and hold every number exactly once, in
//     order; the counts are printed.
//
// Every process it starts is stopped by its PID; the run stops itself after LIMIT_MS.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { io as connectClient } from "socket.io-client";

const LIMIT_MS = 150_000;
const CLIENTS = Number(process.env.CLIENTS ?? 200);
const NUMBERS = Number(process.env.NUMBERS ?? 400);
const SOCKEYE = process.env.SOCKEYE_SERVER;
if (!SOCKEYE) throw new Error("SOCKEYE_SERVER names the nats-cluster-server example");

const children = [];
const storage = mkdtempSync(join(tmpdir(), "sockeye-nats-interop-"));
let passed = 0;
let failed = 0;
function stopAll() {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  rmSync(storage, { recursive: true, force: true });
}
process.on("exit", stopAll);
setTimeout(() => {
  console.error(`the checks did not end within ${LIMIT_MS} ms`);
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
  while (!(await cond())) {
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

// Asks a server, through its client `socket`, to carry out `request`; its answer.
function op(socket, request) {
  return socket.timeout(10_000).emitWithAck("op", request).catch((e) => ({ error: String(e) }));
}

// A loopback TCP proxy: each new connection goes to the next of `targets`; `cut()` ends every
// connection it carries.
function proxy(targets) {
  const open = new Set();
  let next = 0;
  const srv = createServer((down) => {
    const target = state.targets[next++ % state.targets.length];
    const up = tcpConnect(target, "127.0.0.1");
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
    targets,
    listen: () => new Promise((r) => srv.listen(0, "127.0.0.1", () => r(srv.address().port))),
    cut: () => {
      for (const s of open) s.destroy();
    },
    close: () => srv.close(),
  };
  return state;
}

// ---- the cluster

const natsPort = await freePort();
await start("nats-server", ["-a", "127.0.0.1", "-p", String(natsPort), "-js", "-sd", storage], "Server is ready");
const url = `nats://127.0.0.1:${natsPort}`;
const [portA, portB, portC] = [await freePort(), await freePort(), await freePort()];
const serverA = await start(SOCKEYE, [String(portA), url, "A"], "listening on");
await start(SOCKEYE, [String(portB), url, "B"], "listening on");
await start(SOCKEYE, [String(portC), url, "C"], "listening on");

// ---- (a) the cluster, across the three servers

{
  const heard = new Map();
  const mk = async (name, port, rooms) => {
    const s = client(port, { auth: { name, rooms } });
    heard.set(name, []);
    s.onAny((event, ...args) => heard.get(name).push([event, args[0], args[args.length - 1]]));
    s.on("ask", (data, ack) => ack(`${name}:${data}`));
    await connected(s);
    return s;
  };
  const onA = await mk("A", portA, ["red"]);
  const onB = await mk("B", portB, []);
  const onC = await mk("C", portC, ["red"]);
  const counted = await until(async () => (await op(onA, { op: "server-count" })) === 3, 15_000);
  check("every server counts three servers", counted, await op(onA, { op: "server-count" }));
  // Every reader follows the stream once a probe reaches every client.
  await until(async () => {
    await op(onB, { op: "broadcast", event: "probe", data: 0 });
    await sleep(100);
    return ["A", "B", "C"].every((n) => heard.get(n).some(([e]) => e === "probe"));
  }, 15_000);
  const got = (name, event, data) => heard.get(name).some(([e, d]) => e === event && d === data);

  await op(onB, { op: "broadcast", event: "hello", data: "all" });
  await until(() => ["A", "B", "C"].every((n) => got(n, "hello", "all")), 5000);
  for (const n of ["A", "B", "C"]) check(`a broadcast reaches the client on ${n}`, got(n, "hello", "all"), heard.get(n));
  for (const n of ["A", "B", "C"]) {
    const offset = heard.get(n).find(([e]) => e === "hello")?.[2];
    check(`the client on ${n} gets a stream sequence as offset`, /^[0-9]+$/.test(String(offset)), offset);
  }

  await op(onB, { op: "broadcast", to: ["red"], event: "room", data: "red" });
  await until(() => ["A", "C"].every((n) => got(n, "room", "red")), 5000);
  await sleep(300);
  for (const n of ["A", "C"]) check(`a room broadcast reaches the room's client on ${n}`, got(n, "room", "red"), heard.get(n));
  check("a room broadcast skips the client outside the room", !heard.get("B").some(([e]) => e === "room"), heard.get("B"));

  const all = await op(onA, { op: "fetch" });
  const servers = Array.isArray(all) ? all.map((s) => s.data?.server).sort() : all;
  check("fetchSockets describes the sockets of every server", JSON.stringify(servers) === '["A","B","C"]', all);

  await op(onA, { op: "join", to: [onB.id], room: "blue" });
  const joined = await until(async () => {
    const blue = await op(onC, { op: "fetch", to: ["blue"] });
    return Array.isArray(blue) && blue.length === 1 && blue[0].id === onB.id;
  }, 5000);
  check("a remote join from A puts B's client in a room C sees", joined);
  const rooms = await op(onC, { op: "all-rooms" });
  check("all rooms span the cluster", Array.isArray(rooms) && rooms.includes("red") && rooms.includes("blue"), rooms);

  const replies = await op(onA, { op: "server-side-emit-with-ack", event: "ask", data: 7 });
  const who = (replies.replies ?? []).map((r) => r.server).sort();
  check("serverSideEmit with acks gets a reply from each other server", replies.complete === true && JSON.stringify(who) === '["B","C"]', replies);

  const acks = await op(onA, { op: "broadcast-with-ack", event: "ask", data: 1 });
  const from = (acks.replies ?? []).slice().sort();
  check("a broadcast with acks gathers every server's clients' acks", acks.complete === true && JSON.stringify(from) === '["A:1","B:1","C:1"]', acks);
  for (const s of [onA, onB, onC]) s.disconnect();
}

// ---- (b) recovery across servers through a proxy

{
  const front = proxy([portA]);
  const frontPort = await front.listen();
  const clients = [];
  for (let i = 0; i < CLIENTS; i++) {
    const s = client(frontPort);
    const c = { socket: s, numbers: [], reconnects: 0, recovered: null, connectedOnce: false };
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
  const allIn = await until(() => clients.every((c) => c.connectedOnce), 30_000);
  check(`${CLIENTS} clients connected to A through the proxy`, allIn);
  await sleep(1000);

  const control = client(portC);
  await connected(control);
  control.emit("numbers", { count: NUMBERS, every_ms: 10 });
  await until(() => clients[0].numbers.length >= NUMBERS / 4, 20_000);
  serverA.kill("SIGKILL");
  front.targets = [portB, portC];
  front.cut();
  console.log(`A killed (SIGKILL) after ${clients[0].numbers.length} numbers; the proxy now leads to B and C in turn`);

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

console.log(`${passed} passed, ${failed} failed`);
stopAll();
process.exit(failed === 0 ? 0 : 1);
