// An echo server on the `ws` package, for sockeye's client to be checked
// against (examples/interop-client.rs runs the checks).
//
//   node server.mjs [--no-deflate] [--max-size BYTES]
//
// It listens on 127.0.0.1 at a port the OS picks and prints
// `listening on ws://127.0.0.1:PORT` on stdout once ready. It runs until it
// is sent SIGTERM or SIGINT.
//
// - permessage-deflate is accepted unless --no-deflate, and then every
//   message is compressed (no size threshold), fragments included.
// - Messages over --max-size bytes (default 2 MiB) close with 1009.
// - Subprotocols supported: "superchat" and "chat". Of those the client
//   offers, the first in the client's order is agreed; with none of them
//   offered, the connection opens without a subprotocol.
// - Keepalive pings are off: the only pings sent are those asked for below.
//
// Every message is echoed as it came (text as text, binary as binary),
// except text messages that start with "\u0001cmd ", which are commands.
// Payloads in commands and their answers are lowercase hex:
//
//   \u0001cmd fragment-text TEXT   answer TEXT as a text message of several
//                                  frames, cut at byte offsets (inside
//                                  multi-byte UTF-8 sequences too)
//   \u0001cmd fragment-binary N    answer N bytes (byte i is i mod 256) as a
//                                  binary message of several frames
//   \u0001cmd ping HEX             send a Ping with that payload, then answer
//                                  "pong HEX" with the payload of the Pong
//                                  that came back, or "no-pong" after 5 s
//   \u0001cmd last-ping            answer "last-ping HEX" with the payload of
//                                  the last Ping received, or "no-ping"
//   \u0001cmd close CODE REASON    close with that code and reason (the rest
//                                  of the line, may be empty)
//   \u0001cmd send-random N        answer N random bytes as one binary
//                                  message in one frame (compressed when
//                                  permessage-deflate is agreed), then "sent
//                                  CRC FRAME": the CRC-32 of those bytes (as
//                                  zlib computes it, 8 hex digits) and the
//                                  payload length of the frame that carried
//                                  them
//   \u0001cmd send-compressible N  the same with N bytes of text that
//                                  compresses well, sent as one text message:
//                                  the lines "I sockeye héllo wörld € 中文 𝄞"
//                                  (each ending with "\n") for I = 0, 1, 2,
//                                  ..., as many whole lines as fit, then dots
//   \u0001cmd last-close           answer "last-close CODE" with the code of
//                                  the Close frame of the last connection
//                                  that ended (1005: a Close without a code,
//                                  1006: none), or "no-close"
//
// An unknown command is answered "unknown-command".

import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { WebSocketServer } from 'ws';

import { compressibleText, serverFramePayload } from './payloads.mjs';

const COMMAND = '\u0001cmd ';
const SUPPORTED_PROTOCOLS = ['superchat', 'chat'];
const PONG_WAIT_MS = 5000;
/** How many frames a fragmented answer is cut into. */
const FRAGMENTS = 4;

function parseArgs(argv) {
  const options = { deflate: true, maxSize: 2 * 1024 * 1024 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--no-deflate') {
      options.deflate = false;
    } else if (argv[i] === '--max-size' && i + 1 < argv.length) {
      options.maxSize = Number.parseInt(argv[++i], 10);
    } else {
      console.error(`server.mjs: unknown argument ${argv[i]}`);
      process.exit(2);
    }
  }
  return options;
}

/** The first protocol in the client's order that this server supports. */
function chooseProtocol(offered) {
  for (const protocol of offered) {
    if (SUPPORTED_PROTOCOLS.includes(protocol)) return protocol;
  }
  return false;
}

/**
 * The code of the Close frame of the last connection that ended, for the
 * `last-close` command; null before any.
 */
let lastClose = null;

/**
 * Sends `data` as one message in one frame, then "sent CRC FRAME", the frame's
 * payload length taken from the bytes written to `socket` meanwhile.
 */
function sendMeasured(ws, socket, data, binary) {
  const before = socket.bytesWritten;
  ws.send(data, { binary }, (error) => {
    if (error) return;
    const frame = serverFramePayload(socket.bytesWritten - before);
    ws.send(`sent ${crc32(data).toString(16).padStart(8, '0')} ${frame}`);
  });
}

/** Sends `data` as one message cut into FRAGMENTS frames at byte offsets. */
function sendFragmented(ws, data, binary) {
  const step = Math.max(1, Math.ceil(data.length / FRAGMENTS));
  let start = 0;
  do {
    const end = Math.min(data.length, start + step);
    ws.send(data.subarray(start, end), { binary, fin: end === data.length });
    start = end;
  } while (start < data.length);
}

function runCommand(ws, state, line) {
  const space = line.indexOf(' ');
  const name = space < 0 ? line : line.slice(0, space);
  const rest = space < 0 ? '' : line.slice(space + 1);
  switch (name) {
    case 'fragment-text':
      sendFragmented(ws, Buffer.from(rest, 'utf8'), false);
      break;
    case 'fragment-binary': {
      const data = Buffer.alloc(Number.parseInt(rest, 10));
      for (let i = 0; i < data.length; i++) data[i] = i % 256;
      sendFragmented(ws, data, true);
      break;
    }
    case 'ping': {
      const payload = Buffer.from(rest, 'hex');
      const timer = setTimeout(() => {
        ws.off('pong', onPong);
        ws.send('no-pong');
      }, PONG_WAIT_MS);
      const onPong = (data) => {
        clearTimeout(timer);
        ws.off('pong', onPong);
        ws.send(`pong ${data.toString('hex')}`);
      };
      ws.on('pong', onPong);
      ws.ping(payload);
      break;
    }
    case 'last-ping':
      ws.send(state.lastPing === null ? 'no-ping' : `last-ping ${state.lastPing.toString('hex')}`);
      break;
    case 'close': {
      const codeEnd = rest.indexOf(' ');
      const code = Number.parseInt(codeEnd < 0 ? rest : rest.slice(0, codeEnd), 10);
      const reason = codeEnd < 0 ? '' : rest.slice(codeEnd + 1);
      ws.close(code, reason);
      break;
    }
    case 'send-random':
      sendMeasured(ws, state.socket, randomBytes(Number.parseInt(rest, 10)), true);
      break;
    case 'send-compressible':
      sendMeasured(ws, state.socket, Buffer.from(compressibleText(Number.parseInt(rest, 10)), 'utf8'), false);
      break;
    case 'last-close':
      ws.send(lastClose === null ? 'no-close' : `last-close ${lastClose}`);
      break;
    default:
      ws.send('unknown-command');
  }
}

const options = parseArgs(process.argv.slice(2));
const server = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  maxPayload: options.maxSize,
  perMessageDeflate: options.deflate ? { threshold: 0 } : false,
  handleProtocols: chooseProtocol,
});

server.on('connection', (ws, request) => {
  const state = { lastPing: null, socket: request.socket };
  ws.on('close', (code) => {
    lastClose = code;
  });
  ws.on('ping', (data) => {
    state.lastPing = Buffer.from(data);
  });
  ws.on('message', (data, isBinary) => {
    if (!isBinary) {
      const text = data.toString('utf8');
      if (text.startsWith(COMMAND)) {
        runCommand(ws, state, text.slice(COMMAND.length));
        return;
      }
    }
    ws.send(data, { binary: isBinary });
  });
  // A peer's misbehaviour closes that connection; it must not end the server.
  ws.on('error', () => {});
});

server.on('listening', () => {
  const { address, port } = server.address();
  process.stdout.write(`listening on ws://${address}:${port}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    for (const client of server.clients) client.terminate();
    server.close(() => process.exit(0));
  });
}
