// Echo server on Node's `ws`, a peer for benches/compare.sh.
//
// `node echo.mjs ADDR` listens on ADDR (e.g. 127.0.0.1:9304) and sends every
// text or binary message back as it came, on any path: no permessage-deflate,
// messages up to 64 MiB, TCP_NODELAY on (ws sets it too). Node runs the
// JavaScript on one thread, like the other peers' single-threaded runtimes.
//
// `bufferutil` (an optional dependency, as ws's README suggests for speed)
// masks and unmasks natively when installed; ws falls back to JavaScript
// without it. On Node >= 18.14 ws validates UTF-8 with buffer.isUtf8, so
// utf-8-validate is not needed.

import { WebSocketServer } from 'ws';

const addr = process.argv[2];
const match = addr && /^(.*):(\d+)$/.exec(addr);
if (!match) {
  console.error('usage: node echo.mjs ADDR   (e.g. 127.0.0.1:9304)');
  process.exit(2);
}
const host = match[1].replace(/^\[(.*)\]$/, '$1');
const port = Number(match[2]);

const wss = new WebSocketServer({
  host,
  port,
  perMessageDeflate: false,
  maxPayload: 64 * 1024 * 1024,
});

wss.on('connection', (ws, req) => {
  req.socket.setNoDelay(true);
  ws.on('message', (data, isBinary) => {
    ws.send(data, { binary: isBinary });
  });
  ws.on('error', (err) => console.error(`connection: ${err.message}`));
});

wss.on('listening', () => {
  console.error(`node-ws echo listening on ws://${addr}`);
});
