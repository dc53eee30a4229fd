// Writes the bytes @socket.io/redis-adapter 8.3 publishes for a fixed set
// of messages, one file each, into the directory given (default: the
// sockeye-io-redis test fixtures). The messages are built with the shapes
// and key orders the adapter's lib/index.ts uses (see the project's
// Socket.IO notes, section 3b), then encoded as it encodes them:
// notepack.io for broadcasts, broadcasts with acks and their acks,
// JSON.stringify for everything else.
//
// Run with TZ=UTC (the handshake's `time` is the local date string):
//   TZ=UTC node fixtures.js ../../crates/io-redis/tests/fixtures
"use strict";

const fs = require("fs");
const path = require("path");
const notepack = require("notepack.io");

if (process.env.TZ !== "UTC") {
  console.error("run with TZ=UTC");
  process.exit(1);
}

const out = process.argv[2] || path.join(__dirname, "../../crates/io-redis/tests/fixtures");
fs.mkdirSync(out, { recursive: true });

const UID = "Ab3_-z";
const REQ = "r9_Xq-";

function write(name, bytes) {
  fs.writeFileSync(path.join(out, name), bytes);
  console.log(name, bytes.length);
}
const msgpack = (name, value) => write(name + ".msgpack", notepack.encode(value));
const json = (name, value) => write(name + ".json", Buffer.from(JSON.stringify(value)));

// What a broadcast operator hands the adapter: the packet object gets its
// namespace from the adapter, after `type` and `data`.
function packet(nsp, data, id) {
  const p = { type: 2, data };
  p.nsp = nsp;
  if (id !== undefined) p.id = id;
  return p;
}
// The adapter's raw opts: rooms and excepts spread out of their Sets.
function opts(rooms, except, flags) {
  return { rooms: [...new Set(rooms)], except: [...new Set(except)], flags };
}

// --- broadcasts: [uid, packet, opts] ---------------------------------

msgpack("broadcast_all", [UID, packet("/", ["chat", "hi"]), opts([], [], {})]);

msgpack("broadcast_room_binary", [
  UID,
  packet("/chat", [
    "file",
    Buffer.from([1, 2, 3]),
    { n: 1.5, big: 300, neg: -40, ok: true, none: null },
  ]),
  opts(["room1"], ["sid1"], { volatile: true }),
]);

msgpack("broadcast_numbers", [
  UID,
  packet("/", [
    "nums",
    0, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 2 ** 40,
    -1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, -(2 ** 40),
    0.1, -2.5, 1e300,
  ]),
  opts(["a", "b"], ["c"], { volatile: true, compress: true, timeout: 5000 }),
]);

msgpack("broadcast_sizes", [
  UID,
  packet("/", [
    "sizes",
    "x".repeat(31),
    "y".repeat(32),
    "z".repeat(256),
    "é😀\u0001",
    Buffer.alloc(300, 7),
    Array.from({ length: 16 }, (_, i) => i),
    Object.fromEntries(Array.from({ length: 16 }, (_, i) => ["k" + String.fromCharCode(97 + i), i])),
    [],
    {},
  ], 7),
  opts([], ["x"], {}),
]);

// --- requests ------------------------------------------------------------

json("request_sockets", { uid: UID, requestId: REQ, type: 0, rooms: ["a"] });
json("request_all_rooms", { uid: UID, requestId: REQ, type: 1 });
json("request_remote_join", {
  uid: UID,
  type: 2,
  opts: { rooms: ["a"], except: ["b"] },
  rooms: ["c", "d"],
});
json("request_remote_leave", {
  uid: UID,
  type: 3,
  opts: { rooms: [], except: [] },
  rooms: ["c"],
});
json("request_remote_disconnect", {
  uid: UID,
  type: 4,
  opts: { rooms: ["a"], except: [] },
  close: true,
});
json("request_remote_fetch", {
  uid: UID,
  requestId: REQ,
  type: 5,
  opts: { rooms: ["a", "b"], except: ["c"] },
});
const sseData = [
  "ping",
  1,
  2.0,
  -0,
  1.5,
  1e21,
  1.5e-7,
  0.000001,
  "é😀\u0001\u2028\"\\/",
  { a: [true, null], b: Buffer.from([0, 255]) },
];
json("request_server_side_emit", { uid: UID, type: 6, data: sseData });
json("request_server_side_emit_ack", { uid: UID, requestId: REQ, type: 6, data: ["ping", 1] });
msgpack("request_broadcast", {
  uid: UID,
  requestId: REQ,
  type: 7,
  packet: packet("/", ["ask", Buffer.from([9])]),
  opts: opts(["room1"], [], { timeout: 1000 }),
});

// --- responses -----------------------------------------------------------

json("response_sockets", { requestId: REQ, sockets: ["s1", "s2"] });
json("response_all_rooms", { requestId: REQ, rooms: ["a", "s1"] });
json("response_done", { requestId: REQ });

// A socket as buildHandshake describes it, for a WebSocket request whose
// repeated headers Node's HTTP parser has already joined.
const issued = 1765075044123;
json("response_remote_fetch", {
  requestId: REQ,
  sockets: [
    {
      id: "sid1",
      handshake: {
        headers: {
          host: "localhost:3000",
          "x-many": "one, two",
          cookie: "a=1; b=2",
          origin: "http://example.com",
          "set-cookie": ["c=3", "d=4"],
          "user-agent": "node",
        },
        time: new Date(issued) + "",
        address: "127.0.0.1",
        xdomain: true,
        secure: false,
        issued: +new Date(issued),
        url: "/socket.io/?EIO=4&transport=websocket&t=a%20b&t=c",
        query: { EIO: "4", transport: "websocket", t: "c" },
        auth: { token: "x" },
      },
      rooms: ["sid1", "room1"],
      data: { user: "ann" },
    },
  ],
});
json("response_server_side_emit", { type: 6, requestId: REQ, data: "pong" });
json("response_server_side_emit_empty", { type: 6, requestId: REQ, data: undefined });
json("response_client_count", { type: 8, requestId: REQ, clientCount: 3 });
msgpack("response_broadcast_ack", {
  type: 9,
  requestId: REQ,
  packet: { status: "ok", bin: Buffer.from([4, 5]) },
});

// --- numbers: JavaScript doubles at the edges of each form --------------

const numbers = [
  5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1 + 0.2, 1e-6,
  9.99e-7, -1e-7, 123456789012345680000, 999999999999999900000,
  1e21, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64, 2 ** 64 + 4096 * 2, -(2 ** 63),
  -(2 ** 64), 4294967295.5, -2147483648.5, 1 / 3, -1 / 3, 100, 1e15 + 0.5,
];
json("numbers", numbers);
msgpack("numbers", numbers);

// --- channels, as the adapter's constructor names them --------------------

const key = "socket.io";
const nsp = "/chat";
const channel = key + "#" + nsp + "#";
const response = key + "-response#" + nsp + "#";
json("channels", {
  broadcast: channel,
  room: channel + "room1" + "#",
  pattern: channel + "*",
  request: key + "-request#" + nsp + "#",
  response,
  own_response: response + UID + "#",
});
