// The `ws` package's client run through the interoperability checks against
// `sockeye serve` (the echo server).
//
//   node client.mjs ws[s]://127.0.0.1:PORT [--server-deflate on|off] [--server-max-size BYTES]
//                   [--limit-checks] [--no-verify]
//
// The server is expected to run with `--protocol superchat --protocol chat`
// and the given `--max-message-size` (default 2 MiB); --server-deflate says
// whether it accepts permessage-deflate (default on; the client always
// offers it, compressing every message). One line is printed per check,
// `ok NAME` or `FAILED NAME: WHY`; the exit status is 0 only when every
// check passed.
//
// --limit-checks runs, after the handshake, only the checks at the server's
// limit, for a server that accepts permessage-deflate (its subprotocols do
// not matter): a message of exactly --server-max-size bytes, random
// (incompressible) binary and compressible text, each sent compressed in
// one frame and echoed back intact, then one byte more closed with 1009
// within PROMPT_MS of the end of sending it. --no-verify skips the check of a wss:// server's
// certificate (a self-signed one).
//
// The echo server has no commands, so the checks that need the server to
// act (fragments, pings or closes sent by the server) are run in the other
// direction only: by sockeye's client against server.mjs.

import { WebSocket } from 'ws';

import { clientFramePayload, compressibleText } from './payloads.mjs';

const CHECK_TIMEOUT_MS = 10000;
const LARGE = 1 << 20;
const BURST = 100;
const FRAGMENTED_TEXT = 'fragmented: héllo wörld, € 中文 ✓, 𝄞 😀 and the end';
const FRAGMENTED_BINARY_LEN = 70000;
/**
 * The largest message (and frame) this client accepts in the limit checks:
 * the echo of a message of exactly the server's limit may come back a little
 * longer than the message when the server's deflate used stored blocks.
 */
const LIMIT_RECEIVE_MAX = 32 * 1024 * 1024;
/**
 * How soon the Close 1009 must follow the end of sending a message one byte
 * over the limit: the server has only the last bytes left to inflate.
 */
const PROMPT_MS = 5000;

function parseArgs(argv) {
  const options = {
    url: null,
    serverDeflate: true,
    serverMaxSize: 2 * 1024 * 1024,
    limitChecks: false,
    verify: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--server-deflate' && ['on', 'off'].includes(argv[i + 1])) {
      options.serverDeflate = argv[++i] === 'on';
    } else if (arg === '--server-max-size' && i + 1 < argv.length) {
      options.serverMaxSize = Number.parseInt(argv[++i], 10);
    } else if (arg === '--limit-checks') {
      options.limitChecks = true;
    } else if (arg === '--no-verify') {
      options.verify = false;
    } else if (options.url === null && !arg.startsWith('-')) {
      options.url = arg;
    } else {
      console.error(`client.mjs: unexpected argument ${arg}`);
      process.exit(2);
    }
  }
  if (options.url === null) {
    console.error(
      'usage: node client.mjs ws[s]://HOST:PORT [--server-deflate on|off] [--server-max-size BYTES] ' +
        '[--limit-checks] [--no-verify]',
    );
    process.exit(2);
  }
  return options;
}

/** Bytes that do not compress: a fixed pseudo-random sequence (xorshift). */
function noise(length) {
  const data = Buffer.alloc(length);
  let state = 0x2545f491;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    data[i] = state & 0xff;
  }
  return data;
}

/** Exactly `length` bytes of text mixing characters of every UTF-8 length. */
function largeText(length) {
  const pieces = ['sockeye ', 'héllo ', 'wörld ', '€ ', '中文 ', '𝄞 '];
  const random = noise(length);
  const parts = [];
  let size = 0;
  for (let i = 0; ; i++) {
    const piece = pieces[random[i] % pieces.length];
    const pieceSize = Buffer.byteLength(piece);
    if (size + pieceSize > length) break;
    parts.push(piece);
    size += pieceSize;
  }
  return parts.join('') + '.'.repeat(length - size);
}

/** Byte i is i mod 256. */
function pattern(length) {
  const data = Buffer.alloc(length);
  for (let i = 0; i < length; i++) data[i] = i % 256;
  return data;
}

/** Cuts `data` into `count` pieces at byte offsets. */
function cut(data, count) {
  const step = Math.ceil(data.length / count);
  const pieces = [];
  for (let start = 0; start < data.length; start += step) {
    pieces.push(data.subarray(start, Math.min(data.length, start + step)));
  }
  return pieces;
}

/** A connection with the messages it received, in order. */
class Connection {
  constructor(ws, response) {
    this.ws = ws;
    this.response = response;
    this.messages = [];
    this.waiting = null;
    this.closed = null;
    ws.on('message', (data, isBinary) => {
      this.messages.push({ binary: isBinary, data: Buffer.from(data) });
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString('utf8') };
      this.wake();
    });
    ws.on('error', (error) => {
      this.error = error;
      this.wake();
    });
  }

  wake() {
    if (this.waiting !== null) {
      const wake = this.waiting;
      this.waiting = null;
      wake();
    }
  }

  /** The next message; rejects if the connection closes first. */
  async next() {
    for (;;) {
      if (this.messages.length > 0) return this.messages.shift();
      if (this.closed !== null) {
        throw new Error(`closed by the server with ${this.closed.code} ${JSON.stringify(this.closed.reason)}`);
      }
      await new Promise((resolve) => {
        this.waiting = resolve;
      });
    }
  }

  /** The server's close code and reason; rejects if a message comes first. */
  async closeFrame() {
    for (;;) {
      if (this.messages.length > 0) throw new Error(`got ${describe(this.messages.shift())} instead of a Close`);
      if (this.closed !== null) return this.closed;
      await new Promise((resolve) => {
        this.waiting = resolve;
      });
    }
  }

  send(message, options = {}) {
    return new Promise((resolve, reject) => {
      this.ws.send(message.data, { binary: message.binary, ...options }, (error) => (error ? reject(error) : resolve()));
    });
  }
}

/**
 * Opens a connection offering permessage-deflate and `protocols`, accepting
 * messages of up to `maxPayload` bytes (ws's default, 100 MiB, if not given).
 */
function connect(options, protocols = [], maxPayload = undefined) {
  return new Promise((resolve, reject) => {
    let response = null;
    const ws = new WebSocket(options.url, protocols, {
      perMessageDeflate: { threshold: 0 },
      rejectUnauthorized: options.verify,
      ...(maxPayload === undefined ? {} : { maxPayload }),
    });
    ws.on('upgrade', (res) => {
      response = res;
    });
    ws.once('open', () => resolve(new Connection(ws, response)));
    ws.once('error', (error) => {
      error.response = response;
      reject(error);
    });
  });
}

function text(string) {
  return { binary: false, data: Buffer.from(string, 'utf8') };
}

function binary(data) {
  return { binary: true, data: Buffer.from(data) };
}

function describe(message) {
  const kind = message.binary ? 'binary' : 'text';
  let out = `${kind} message of ${message.data.length} bytes`;
  if (message.data.length <= 64) out += ` ${JSON.stringify(message.data.toString('utf8'))}`;
  return out;
}

function same(expected, got) {
  if (expected.binary === got.binary && expected.data.equals(got.data)) return;
  let why = `expected ${describe(expected)}, got ${describe(got)}`;
  const length = Math.min(expected.data.length, got.data.length);
  for (let i = 0; i < length; i++) {
    if (expected.data[i] !== got.data[i]) {
      why += ` (first difference at byte ${i})`;
      break;
    }
  }
  throw new Error(why);
}

async function echo(conn, message) {
  await conn.send(message);
  same(message, await conn.next());
}

function withinTime(promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Closes with 1000 and waits for the server's Close. */
async function closeNormally(conn) {
  conn.ws.close(1000);
  await conn.closeFrame();
}

/**
 * Sends `message` on a connection of its own, checks from the bytes written
 * to the socket that it went out compressed, and that it comes back intact.
 * `longer`: random bytes, which deflate lengthens (stored blocks add 5 bytes
 * each), so the frame must be longer than the message; else compressible
 * ones, so the frame must be less than half of it.
 */
async function echoCompressed(options, message, longer) {
  const conn = await connect(options, [], LIMIT_RECEIVE_MAX);
  try {
    if (!conn.ws.extensions.includes('permessage-deflate')) throw new Error('permessage-deflate was not agreed');
    const socket = conn.response.socket;
    const before = socket.bytesWritten;
    await conn.send(message);
    const frame = clientFramePayload(socket.bytesWritten - before);
    const size = message.data.length;
    const compressed = longer ? frame > size : frame * 2 < size;
    if (!compressed) {
      const expected = longer ? 'longer than the message' : 'less than half of it';
      throw new Error(`sent a frame of ${frame} bytes for a message of ${size}, expected ${expected}`);
    }
    same(message, await conn.next());
    await closeNormally(conn);
  } finally {
    conn.ws.terminate();
  }
}

/**
 * The checks at the server's limit (--limit-checks), each on a connection
 * of its own that accepts LIMIT_RECEIVE_MAX bytes.
 */
async function limitChecks(options, alone) {
  const limit = options.serverMaxSize;
  await alone('limit-echo-binary-random', () => echoCompressed(options, binary(noise(limit)), true));
  await alone('limit-echo-text-compressible', () => echoCompressed(options, text(compressibleText(limit)), false));
  await alone('limit-over-by-one-1009', async () => {
    const message = binary(noise(limit + 1));
    const conn = await connect(options, [], LIMIT_RECEIVE_MAX);
    try {
      let sent = null;
      // The server may close before it has read the whole message, so a
      // failed send is not yet a failed check: its Close is.
      conn
        .send(message)
        .catch(() => {})
        .finally(() => {
          sent = Date.now();
        });
      const { code, reason } = await conn.closeFrame();
      // Closed before the send ended: as prompt as can be.
      const elapsed = sent === null ? 0 : Date.now() - sent;
      if (code !== 1009) throw new Error(`expected 1009, got ${code} ${JSON.stringify(reason)}`);
      if (elapsed > PROMPT_MS) {
        throw new Error(`closed with 1009 ${elapsed} ms after the end of sending, over ${PROMPT_MS} ms`);
      }
    } finally {
      conn.ws.terminate();
    }
  });
}

/** Runs the checks, printing one line each; returns how many failed. */
async function run(options) {
  let failed = 0;
  let passed = 0;
  const record = (name, error) => {
    if (error === undefined) {
      passed++;
      console.log(`ok ${name}`);
    } else {
      failed++;
      console.log(`FAILED ${name}: ${error.message ?? error}`);
    }
  };

  // The checks that share one connection, opened again after a failure.
  let shared = null;
  const check = async (name, body) => {
    try {
      if (shared === null) shared = await withinTime(connect(options));
      await withinTime(body(shared));
      record(name);
    } catch (error) {
      if (shared !== null) shared.ws.terminate();
      shared = null;
      record(name, error);
    }
  };
  // A check on a connection of its own.
  const alone = async (name, body) => {
    try {
      await withinTime(body());
      record(name);
    } catch (error) {
      record(name, error);
    }
  };

  try {
    shared = await withinTime(connect(options));
    record('handshake');
    const header = shared.response?.headers['sec-websocket-extensions'] ?? '';
    const inHeader = header.includes('permessage-deflate');
    const inForce = shared.ws.extensions.includes('permessage-deflate');
    if (inHeader === options.serverDeflate && inForce === options.serverDeflate) {
      record('deflate-negotiated');
    } else {
      record(
        'deflate-negotiated',
        new Error(
          `server deflate ${options.serverDeflate ? 'on' : 'off'}, but Sec-WebSocket-Extensions ` +
            `has permessage-deflate: ${inHeader}, in force: ${inForce}`,
        ),
      );
    }
  } catch (error) {
    record('handshake', error);
    record('deflate-negotiated', new Error('no connection to check'));
  }

  if (options.limitChecks) {
    if (shared !== null) {
      await withinTime(closeNormally(shared)).catch(() => {});
      shared.ws.terminate();
      shared = null;
    }
    await limitChecks(options, alone);
    return { passed, failed };
  }

  const echoes = [
    ['echo-text-ascii', text('Hello, WebSocket!')],
    ['echo-text-utf8-2byte', text('héllo wörld ñ ß')],
    ['echo-text-utf8-3byte', text('€ 中文 ✓ ☃')],
    ['echo-text-utf8-4byte', text('𝄞 😀 🦀 𐍈')],
    ['echo-text-empty', text('')],
    ['echo-binary-all-bytes', binary(pattern(256))],
    ['echo-binary-empty', binary([])],
    ['echo-binary-1mib', binary(noise(LARGE))],
    ['echo-text-1mib', text(largeText(LARGE))],
  ];
  for (const [name, message] of echoes) {
    await check(name, (conn) => echo(conn, message));
  }

  await check('echo-burst-100', async (conn) => {
    const messages = [];
    for (let i = 0; i < BURST; i++) {
      messages.push(i % 2 === 0 ? text(`burst message ${i} ✓`) : binary(Buffer.alloc(i, i % 256)));
    }
    await Promise.all(messages.map((message) => conn.send(message)));
    for (let i = 0; i < messages.length; i++) {
      try {
        same(messages[i], await conn.next());
      } catch (error) {
        throw new Error(`message ${i}: ${error.message}`);
      }
    }
  });

  // Fragments cut at byte offsets, inside multi-byte characters too.
  const sendFragments = async (conn, message) => {
    const pieces = cut(message.data, 4);
    for (let i = 0; i < pieces.length; i++) {
      await conn.send({ binary: message.binary, data: pieces[i] }, { fin: i === pieces.length - 1 });
    }
    same(message, await conn.next());
  };
  await check('fragmented-text-sent', (conn) => sendFragments(conn, text(FRAGMENTED_TEXT)));
  await check('fragmented-binary-sent', (conn) => sendFragments(conn, binary(pattern(FRAGMENTED_BINARY_LEN))));

  await check('ping-client', async (conn) => {
    const payload = Buffer.from('ws ping ✓', 'utf8');
    const pong = new Promise((resolve) => conn.ws.once('pong', resolve));
    conn.ws.ping(payload);
    const got = await pong;
    if (!payload.equals(got)) {
      throw new Error(`pong payload ${got.toString('hex')}, expected ${payload.toString('hex')}`);
    }
  });

  await check('close-client-4000', async (conn) => {
    conn.ws.close(4000, 'bye');
    const { code, reason } = await conn.closeFrame();
    if (code !== 4000 || reason !== 'bye') {
      throw new Error(`the server answered with ${code} ${JSON.stringify(reason)}, not 4000 "bye"`);
    }
  });
  shared = null;

  await alone('close-too-big-1009', async () => {
    const conn = await connect(options);
    // The server may close before it has read the whole message, so a
    // failed send is not yet a failed check: its Close is.
    conn.send(binary(noise(options.serverMaxSize + 1))).catch(() => {});
    const { code, reason } = await conn.closeFrame();
    if (code !== 1009) throw new Error(`expected 1009, got ${code} ${JSON.stringify(reason)}`);
  });

  await alone('subprotocol-agreed', async () => {
    const conn = await connect(options, ['nope', 'chat', 'superchat']);
    if (conn.ws.protocol !== 'chat') throw new Error(`expected "chat", got ${JSON.stringify(conn.ws.protocol)}`);
    await echo(conn, text('chat works'));
    conn.ws.close(1000);
    await conn.closeFrame();
  });
  // ws's client refuses a 101 without a subprotocol when it offered some;
  // the response itself is what is checked.
  await alone('subprotocol-none', async () => {
    let conn;
    try {
      conn = await connect(options, ['nope']);
    } catch (error) {
      const response = error.response;
      if (response === null || response === undefined) throw error;
      if (response.statusCode !== 101) throw new Error(`expected 101, got ${response.statusCode}`);
      const header = response.headers['sec-websocket-protocol'];
      if (header !== undefined) throw new Error(`expected no Sec-WebSocket-Protocol, got ${JSON.stringify(header)}`);
      if (error.message !== 'Server sent no subprotocol') throw error;
      return;
    }
    conn.ws.terminate();
    throw new Error(`expected no subprotocol, got ${JSON.stringify(conn.ws.protocol)}`);
  });

  return { passed, failed };
}

const { passed, failed } = await run(parseArgs(process.argv.slice(2)));
process.exit(failed === 0 && passed > 0 ? 0 : 1);
