// The mixed cluster: two sockeye-io servers (crates/io-redis/examples/
// redis-cluster-server.rs) and one Node socket.io 4.8 server with
// @socket.io/redis-adapter 8.3 on one redis-server, a socket.io-client on
// each (two on Node's), and checks made from a sockeye server and from the
// Node one: broadcasts (all, to a room, except a room), fetchSockets (ids,
// rooms, data, handshake), remote join / leave / disconnect,
// serverSideEmit with and without acks, broadcasts with acks, the server
// count and all rooms; the broker killed and started again mid-run; and
// Node's redis-emitter publishing into it.
//
// Starts redis-server (REDIS_SERVER, default `redis-server`) on a free
// loopback port with no persistence, and the sockeye servers from
// SOCKEYE_SERVER (the example's binary); stops all of them by PID at the
// end. Prints each check, then "N passed, N failed"; exits non-zero on
// any failure, or after LIMIT_MS in all.
//
//   SOCKEYE_SERVER=target/debug/examples/redis-cluster-server node cluster.mjs
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { Server } from "socket.io";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";
import { io as connectClient } from "socket.io-client";

// ADAPTER=sharded runs the same checks on sharded pub/sub
// (createShardedAdapter), but those Node's sharded adapter does not
// support (allRooms) and those of the classic emitter.
const SHARDED = process.env.ADAPTER === "sharded";
const LIMIT_MS = 120_000;
const WAIT_MS = 6_000;
const QUIET_MS = 400;

const children = [];
let passed = 0;
let failed = 0;

function stopAll() {
  for (const child of children) {
    if (child.exitCode === null) child.kill("SIGTERM");
  }
}
process.on("exit", stopAll);
setTimeout(() => {
  console.error(`the checks did not end within ${LIMIT_MS} ms`);
  stopAll();
  process.exit(1);
}, LIMIT_MS).unref();

function check(name, ok, detail) {
  if (ok) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}${detail === undefined ? "" : ": " + JSON.stringify(detail)}`);
  }
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

// Starts `command` and waits until its output contains `ready`.
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
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited (${code}): ${out}`));
    });
  });
}

// ---- the Node server, with the handlers the sockeye example has

async function nodeServer(port, url) {
  const pub = createClient({ url });
  const sub = pub.duplicate();
  // The broker is killed mid-run on purpose: the clients reconnect.
  for (const c of [pub, sub]) c.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const adapter = SHARDED ? createShardedAdapter(pub, sub) : createAdapter(pub, sub);
  const io = new Server(port, { adapter });
  const heard = [];
  for (const event of ["hello", "bye"]) {
    io.on(event, (...args) => heard.push([event, ...args]));
  }
  io.on("ask", (arg, callback) => callback({ server: "node", got: arg }));
  const target = (req) => {
    let op = io.of("/");
    if (req.to && req.to.length) op = op.to(req.to);
    if (req.except && req.except.length) op = op.except(req.except);
    return op;
  };
  io.on("connection", (socket) => {
    const auth = socket.handshake.auth || {};
    for (const room of auth.rooms || []) socket.join(room);
    socket.data = { name: auth.name, server: "node" };
    socket.on("op", async (req, ack) => {
      switch (req.op) {
        case "broadcast":
          target(req).emit(req.event, req.data);
          return ack(true);
        case "fetch": {
          const sockets = await target(req).fetchSockets();
          return ack(
            sockets.map((s) => ({
              id: s.id,
              rooms: [...s.rooms],
              data: s.data,
              url: s.handshake.url,
              auth: s.handshake.auth,
              handshake: s.handshake,
            })),
          );
        }
        case "join":
          target(req).socketsJoin(req.room);
          return ack(true);
        case "leave":
          target(req).socketsLeave(req.room);
          return ack(true);
        case "disconnect":
          target(req).disconnectSockets(!!req.close);
          return ack(true);
        case "server-side-emit":
          io.serverSideEmit(req.event, req.data);
          return ack(true);
        case "server-side-emit-with-ack":
          try {
            return ack({ replies: await io.serverSideEmitWithAck(req.event, req.data), complete: true });
          } catch (e) {
            return ack({ replies: e.responses || [], complete: false });
          }
        case "broadcast-with-ack":
          try {
            return ack({ replies: await target(req).timeout(WAIT_MS / 2).emitWithAck(req.event, req.data), complete: true });
          } catch (e) {
            return ack({ replies: e.responses || [], complete: false, error: String(e) });
          }
        case "heard":
          return ack(heard);
        case "server-count":
          return ack(await io.of("/").adapter.serverCount());
        case "all-rooms":
          return ack([...(await io.of("/").adapter.allRooms())].sort());
        default:
          return ack({ error: `unknown op ${req.op}` });
      }
    });
  });
  return { io, close: async () => { io.close(); await Promise.allSettled([pub.quit(), sub.quit()]); } };
}

// ---- clients

function client(port, name, rooms) {
  return new Promise((resolve, reject) => {
    const socket = connectClient(`http://127.0.0.1:${port}`, {
      transports: ["websocket"],
      reconnection: false,
      auth: { name, rooms },
    });
    socket.received = [];
    socket.on("ack-me", (arg, callback) => callback({ name, got: arg }));
    socket.onAny((event, ...args) => socket.received.push([event, ...args]));
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

const op = (socket, req) => socket.timeout(WAIT_MS).emitWithAck("op", req);

// Waits up to WAIT_MS for `socket` to have received `event`; its arguments.
async function heard(socket, event) {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    const found = socket.received.find(([e]) => e === event);
    if (found) return found.slice(1);
    await sleep(20);
  }
  return undefined;
}

const count = (socket, event) => socket.received.filter(([e]) => e === event).length;

// Polls `get` until `test` holds of its value, up to WAIT_MS; the last value.
async function until(get, test) {
  const deadline = Date.now() + WAIT_MS;
  let value = await get();
  while (!test(value) && Date.now() < deadline) {
    await sleep(50);
    value = await get();
  }
  return value;
}

const sorted = (xs) => [...xs].sort();
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// Node's redis-emitter (classic mode only) publishing into the cluster.
async function emitterChecks(url, all, names, [c1, c2, c3, c4]) {
  const emitterClient = createClient({ url });
  emitterClient.on("error", () => {});
  await emitterClient.connect();
  const emitter = new Emitter(emitterClient);
  emitter.emit("from-emitter", { n: 1 });
  emitter.to("room2").emit("emitter-room2", 2);
  for (const c of all) {
    check(`emitter: an emit reaches ${names.get(c.id)}`, same(await heard(c, "from-emitter"), [{ n: 1 }]));
  }
  for (const c of [c2, c4]) {
    check(`emitter: an emit to room2 reaches ${names.get(c.id)}`, same(await heard(c, "emitter-room2"), [2]));
  }
  await sleep(QUIET_MS);
  check("emitter: an emit to room2 stays off c1 and c3", count(c1, "emitter-room2") + count(c3, "emitter-room2") === 0);
  emitter.serverSideEmit("bye", "emitter");
  for (const c of [c1, c2, c3]) {
    const got = await until(() => op(c, { op: "heard" }), (h) => h.some((e) => same(e, ["bye", "emitter"])));
    check(`emitter: serverSideEmit reaches ${names.get(c.id)}'s server`, got.some((e) => same(e, ["bye", "emitter"])), got);
  }
  emitter.in("room1").socketsJoin("emitter-joined");
  const joinedByEmitter = await until(() => op(c2, { op: "fetch", to: ["emitter-joined"] }), (xs) => xs.length === 2);
  check("emitter: socketsJoin puts room1 in a room on every server",
    same(sorted(joinedByEmitter.map((s) => s.id)), sorted([c1.id, c3.id])), joinedByEmitter);
  await emitterClient.quit();
}

// ---- the run

async function main() {
  const sockeye = process.env.SOCKEYE_SERVER;
  if (!sockeye) throw new Error("set SOCKEYE_SERVER to the redis-cluster-server binary");
  const redisPort = await freePort();
  const startRedis = () =>
    start(
      process.env.REDIS_SERVER || "redis-server",
      ["--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--port", String(redisPort)],
      "Ready to accept connections",
    );
  let redis = await startRedis();
  const url = `redis://127.0.0.1:${redisPort}`;
  const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
  const mode = SHARDED ? ["--sharded"] : [];
  await start(sockeye, [String(p1), url, "sockeye-1", ...mode], "listening on");
  await start(sockeye, [String(p2), url, "sockeye-2", ...mode], "listening on");
  const node = await nodeServer(p3, url);

  const c1 = await client(p1, "c1", ["room1"]);
  const c2 = await client(p2, "c2", ["room2"]);
  const c3 = await client(p3, "c3", ["room1"]);
  const c4 = await client(p3, "c4", ["room2"]);
  const all = [c1, c2, c3, c4];
  const names = new Map(all.map((c, i) => [c.id, `c${i + 1}`]));

  // Every server subscribed: each counts three.
  for (const c of [c1, c2, c3]) {
    const n = await until(() => op(c, { op: "server-count" }), (n) => n === 3);
    check(`server count seen from ${names.get(c.id)}'s server`, n === 3, n);
  }

  const origins = [
    ["sockeye", c1],
    ["node", c3],
  ];
  for (const [origin, via] of origins) {
    const tag = (s) => `${s}-${origin}`;

    // Broadcasts.
    await op(via, { op: "broadcast", event: tag("all"), data: { from: origin, n: [1, "two"] } });
    for (const c of all) {
      const args = await heard(c, tag("all"));
      check(`${origin}: broadcast to all reaches ${names.get(c.id)}`, same(args, [{ from: origin, n: [1, "two"] }]), args);
    }
    await op(via, { op: "broadcast", to: ["room1"], event: tag("room1"), data: origin });
    await op(via, { op: "broadcast", except: ["room1"], event: tag("not-room1"), data: origin });
    for (const c of all) {
      const inRoom1 = c === c1 || c === c3;
      const a = await heard(c, inRoom1 ? tag("room1") : tag("not-room1"));
      check(`${origin}: ${names.get(c.id)} gets the ${inRoom1 ? "room1" : "except room1"} broadcast`, same(a, [origin]), a);
    }
    await sleep(QUIET_MS);
    for (const c of all) {
      const inRoom1 = c === c1 || c === c3;
      const wrong = inRoom1 ? tag("not-room1") : tag("room1");
      check(`${origin}: ${names.get(c.id)} does not get ${wrong}, and each event once`,
        count(c, wrong) === 0 && count(c, tag("all")) === 1, c.received.map(([e]) => e));
    }

    // To one socket, by its own room: sockeye ids have 22 characters,
    // Node's 20, which the sharded adapter tells apart.
    for (const c of all) {
      await op(via, { op: "broadcast", to: [c.id], event: tag("direct"), data: names.get(c.id) });
    }
    for (const c of all) {
      const a = await heard(c, tag("direct"));
      check(`${origin}: a broadcast to ${names.get(c.id)}'s own room reaches it`, same(a, [names.get(c.id)]), a);
    }
    await sleep(QUIET_MS);
    for (const c of all) {
      check(`${origin}: ${names.get(c.id)} gets only its own direct broadcast`, count(c, tag("direct")) === 1);
    }

    // fetchSockets.
    const found = await op(via, { op: "fetch" });
    check(`${origin}: fetchSockets finds every socket`, same(sorted(found.map((s) => s.id)), sorted(all.map((c) => c.id))),
      found.map((s) => s.id));
    for (const c of all) {
      const s = found.find((x) => x.id === c.id);
      const name = names.get(c.id);
      const room = c === c1 || c === c3 ? "room1" : "room2";
      const server = c === c1 ? "sockeye-1" : c === c2 ? "sockeye-2" : "node";
      check(`${origin}: fetchSockets describes ${name} (rooms, data, handshake)`,
        s !== undefined &&
          same(sorted(s.rooms), sorted([c.id, room])) &&
          same(s.data, { name, server }) &&
          typeof s.url === "string" && s.url.startsWith("/socket.io/?") && s.url.includes("EIO=4") &&
          same(s.auth, { name, rooms: [room] }),
        s);
    }
    if (origin === "node") {
      // Node's whole handshake shape, as a Node server sees a sockeye
      // server's socket.
      for (const c of [c1, c2]) {
        const h = found.find((x) => x.id === c.id).handshake;
        check(`node: fetchSockets gives ${names.get(c.id)}'s handshake in Node's shape`,
          h !== undefined &&
            typeof h.headers === "object" && typeof h.headers.host === "string" &&
            h.headers.host.startsWith("127.0.0.1:") &&
            typeof h.time === "string" && !Number.isNaN(Date.parse(h.time)) &&
            typeof h.issued === "number" && Math.abs(Date.now() - h.issued) < 600_000 &&
            h.address === "127.0.0.1" && h.secure === false && h.xdomain === false &&
            h.query && h.query.EIO === "4" && h.query.transport === "websocket" &&
            same(h.auth, { name: names.get(c.id), rooms: [c === c1 ? "room1" : "room2"] }),
          h);
      }
    }
    const inRoom2 = await op(via, { op: "fetch", to: ["room2"] });
    check(`${origin}: fetchSockets in room2`, same(sorted(inRoom2.map((s) => s.id)), sorted([c2.id, c4.id])), inRoom2);

    // Remote join and leave.
    const joined = tag("joined");
    await op(via, { op: "join", to: ["room2"], room: joined });
    let members = await until(() => op(via, { op: "fetch", to: [joined] }), (xs) => xs.length === 2);
    check(`${origin}: remote join puts room2 in ${joined}`, same(sorted(members.map((s) => s.id)), sorted([c2.id, c4.id])), members);
    await op(via, { op: "broadcast", to: [joined], event: tag("to-joined"), data: 1 });
    for (const c of [c2, c4]) {
      check(`${origin}: ${names.get(c.id)} hears a broadcast to ${joined}`, same(await heard(c, tag("to-joined")), [1]));
    }
    await op(via, { op: "leave", to: [joined], room: joined });
    members = await until(() => op(via, { op: "fetch", to: [joined] }), (xs) => xs.length === 0);
    check(`${origin}: remote leave empties ${joined}`, members.length === 0, members);

    // serverSideEmit: the other servers' handlers get it, the sender's not.
    await op(via, { op: "server-side-emit", event: "hello", data: origin });
    for (const c of [c1, c2, c3]) {
      const fromSelf = (c === c1 && origin === "sockeye") || (c === c3 && origin === "node");
      const got = await until(() => op(c, { op: "heard" }), (h) => fromSelf || h.some((e) => same(e, ["hello", origin])));
      const has = got.some((e) => same(e, ["hello", origin]));
      check(`${origin}: serverSideEmit ${fromSelf ? "stays off" : "reaches"} ${names.get(c.id)}'s server`, has !== fromSelf, got);
    }

    // serverSideEmitWithAck: one reply from each other server.
    const asked = await op(via, { op: "server-side-emit-with-ack", event: "ask", data: origin });
    const others = origin === "node" ? ["sockeye-1", "sockeye-2"] : ["node", "sockeye-2"];
    check(`${origin}: serverSideEmitWithAck gets each other server's reply`,
      asked.complete === true &&
        same(sorted(asked.replies.map((r) => r.server)), sorted(others)) &&
        asked.replies.every((r) => r.got === origin),
      asked);

    // allRooms.
    if (SHARDED) continue;
    const rooms = await op(via, { op: "all-rooms" });
    const expected = sorted(new Set(["room1", "room2", ...all.map((c) => c.id)]));
    check(`${origin}: allRooms covers the cluster`, same(rooms, expected), rooms);
  }

  // A broadcast with acks, from Node and from sockeye: every server's
  // sockets are counted and their acks come back through Redis.
  for (const [origin, via] of origins) {
    for (const [to, expected] of [
      [[], ["c1", "c2", "c3", "c4"]],
      [["room1"], ["c1", "c3"]],
    ]) {
      const answer = await op(via, { op: "broadcast-with-ack", to, event: "ack-me", data: "q" });
      check(`${origin}: emitWithAck to ${to.length ? to.join(",") : "all"} gets every client's ack`,
        answer.complete === true &&
          same(sorted(answer.replies.map((r) => r.name)), expected) &&
          answer.replies.every((r) => r.got === "q"),
        answer);
    }
  }

  // The broker killed (SIGKILL) and started again mid-run: every server
  // lives on; a sockeye server's own clients still get its broadcasts,
  // the others miss them, and it counts exactly those as unpublished; once
  // the broker is back, the cluster is whole again.
  const before = await op(c1, { op: "stats" });
  const killed = new Promise((resolve) => redis.once("exit", resolve));
  redis.kill("SIGKILL");
  await killed;
  const LOST = 5;
  for (let i = 0; i < LOST; i++) {
    await op(c1, { op: "broadcast", event: "during-outage", data: i });
  }
  const ownGot = await until(async () => count(c1, "during-outage"), (n) => n === LOST);
  check("outage: sockeye-1's own client gets all its broadcasts", ownGot === LOST, ownGot);
  const counted = await until(async () => (await op(c1, { op: "stats" })).unpublished - before.unpublished, (n) => n >= LOST);
  redis = await startRedis();
  for (const c of [c1, c2, c3]) {
    const n = await until(() => op(c, { op: "server-count" }), (n) => n === 3);
    check(`outage: ${names.get(c.id)}'s server counts three servers again`, n === 3, n);
  }
  const after = await until(async () => {
    await op(c1, { op: "broadcast", event: "after-outage", data: 1 });
    return [c2, c3, c4].every((c) => count(c, "after-outage") > 0);
  }, (ok) => ok);
  check("outage: sockeye-1's broadcasts reach every server again", after);
  const seenElsewhere = [c2, c3, c4].reduce((n, c) => n + count(c, "during-outage"), 0);
  check("outage: the broadcasts lost are the ones counted", seenElsewhere === 0 && counted === LOST,
    { seenElsewhere, counted });
  const nodeAfter = await until(async () => {
    await op(c3, { op: "broadcast", event: "node-after-outage", data: 1 });
    return [c1, c2].every((c) => count(c, "node-after-outage") > 0);
  }, (ok) => ok);
  check("outage: Node's broadcasts reach the sockeye servers again", nodeAfter);

  // Node's redis-emitter, a process without clients, publishes into the
  // cluster: events, server-side events and room operations reach every
  // server.
  if (!SHARDED) await emitterChecks(url, all, names, all);

  // Every message Node's adapter and emitter sent was understood, nothing
  // timed out, and nothing was lost but the outage's broadcasts.
  for (const c of [c1, c2]) {
    const stats = await op(c, { op: "stats" });
    const lost = c === c1 ? LOST : 0;
    check(`${names.get(c.id)}'s sockeye server refused and timed out nothing, and lost ${lost}`,
      stats.malformed === 0 && stats.unpublished === lost && stats.timed_out_requests === 0 &&
        stats.refused_requests === 0 && stats.reconnects > 0,
      stats);
  }

  // Remote disconnect, each way: Node disconnects a sockeye server's
  // socket, a sockeye server disconnects one of Node's.
  const reason = (c) => new Promise((resolve) => c.once("disconnect", resolve));
  const c2gone = reason(c2);
  await op(c3, { op: "disconnect", to: [c2.id] });
  check("node: disconnectSockets reaches c2 on sockeye-2",
    (await Promise.race([c2gone, sleep(WAIT_MS).then(() => "none")])) === "io server disconnect");
  const c4gone = reason(c4);
  await op(c1, { op: "disconnect", to: [c4.id] });
  check("sockeye: disconnect reaches c4 on node",
    (await Promise.race([c4gone, sleep(WAIT_MS).then(() => "none")])) === "io server disconnect");
  const left = await until(() => op(c1, { op: "fetch" }), (xs) => xs.length === 2);
  check("after both disconnects, c1 and c3 remain", same(sorted(left.map((s) => s.id)), sorted([c1.id, c3.id])), left);

  for (const c of all) c.close();
  await node.close();
}

main()
  .catch((e) => {
    failed++;
    console.log(`FAIL the run: ${e && e.stack ? e.stack : e}`);
  })
  .finally(() => {
    stopAll();
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed === 0 ? 0 : 1);
  });
