// Node socket.io 4.8 serving the events of benches/socketio (see
// crates/io/examples/socketio-bench-server.rs for what each does): `echo`
// acknowledged with its argument, `join` (room), and `blast` (room, count,
// payload), which emits `blast` with the payload to the room `count` times.
//
// Its default engine (`ws`), JSON parser and 25 s / 20 s ping.
// perMessageDeflate is off: it is already off by default since socket.io 3,
// and is set here so that the comparison does not depend on that default.
//
// Usage: node server.mjs PORT (listens on 127.0.0.1 only).
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? 3000);
const httpServer = createServer();
const io = new Server(httpServer, { perMessageDeflate: false });

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
  console.log(`listening on 127.0.0.1:${port}`);
});
