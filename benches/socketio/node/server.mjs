// Node socket.io 4.8 serving the events of benches/socketio (see
// crates/io/examples/socketio-bench-server.rs for what each does): `echo`
// acknowledged with its argument, `join` (room), and `blast` (room, count,
// payload), which emits `blast` with the payload to the room `count` times.
//
// Its default engine (`ws`), JSON parser and 25 s / 20 s ping.
// perMessageDeflate is off: it is already off by default since socket.io 3,
// and is set here so that the comparison does not depend on that default.
//
// With REDIS_URL set, the server joins a cluster on that Redis through
// @socket.io/redis-adapter 8.3 (classic pub/sub, `createAdapter`, its
// default options) and the `redis` 4 client, as that adapter's README
// shows: each emit of `blast` reaches this server's sockets directly and
// the other servers' through one publish (benches/socketio/cluster.sh).
//
// Usage: [REDIS_URL=redis://127.0.0.1:P] node server.mjs PORT
// (listens on 127.0.0.1 only).
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? 3000);
const httpServer = createServer();
const io = new Server(httpServer, { perMessageDeflate: false });

if (process.env.REDIS_URL) {
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const { createClient } = await import("redis");
  const pub = createClient({ url: process.env.REDIS_URL });
  const sub = pub.duplicate();
  for (const client of [pub, sub]) {
    // Without a listener, a lost connection would end the process.
    client.on("error", (err) => console.error(`redis: ${err.message}`));
  }
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub));
}

io.on("connection", (socket) => {
  socket.on("echo", (data, ack) => {
    if (typeof ack === "function") ack(data);
  });
  socket.on("join", (room) => {
    socket.join(room);
  });
  socket.on("blast", (room, count, payload) => {
    for (let i = 0; i < count; i++) io.to(room).emit("blast", payload);
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  const cluster = process.env.REDIS_URL ? `, adapter on ${process.env.REDIS_URL}` : "";
  console.log(`listening on 127.0.0.1:${port}${cluster}`);
});
