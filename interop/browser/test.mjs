// Chromium against `sockeye serve`: each check runs in its own page, prints ok or FAILED
// with its time, and fails instead of hanging when it passes its timeout.
//
//   node test.mjs --server ADDR --plain-server ADDR [--console URL] [--screenshot FILE]
//     [--tls-h2-server ADDR --tls-h2-log FILE] [--tls-h1-server ADDR --tls-h1-log FILE]
//
// --server is a `sockeye serve --protocol chat --protocol superchat` with permessage-deflate
// on, --plain-server one started with --no-deflate. --console is the page to drive (default:
// http://ADDR/ of --server); when it is served from elsewhere, its URL field is pointed at
// --server. --tls-h2-server is a `sockeye serve --tls-self-signed --protocol chat` (HTTP/2
// offered by ALPN) and --tls-h1-server the same with --no-http2, each run with
// RUST_LOG=debug and logging to its --tls-*-log file, from which the wss:// checks tell
// which protocol carried their socket; they run only when given. Exits 1 when any check
// fails.

import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { chromium } from 'playwright-core';

const { values: opts } = parseArgs({
  options: {
    server: { type: 'string' },
    'plain-server': { type: 'string' },
    console: { type: 'string' },
    screenshot: { type: 'string', default: 'reports/browser/console.png' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    'tls-h2-server': { type: 'string' },
    'tls-h2-log': { type: 'string' },
    'tls-h1-server': { type: 'string' },
    'tls-h1-log': { type: 'string' },
  },
});
if (!opts.server || !opts['plain-server']
  || !opts['tls-h2-server'] !== !opts['tls-h2-log'] || !opts['tls-h1-server'] !== !opts['tls-h1-log']) {
  console.error('usage: node test.mjs --server ADDR --plain-server ADDR [--console URL] [--screenshot FILE]\n'
    + '         [--tls-h2-server ADDR --tls-h2-log FILE] [--tls-h1-server ADDR --tls-h1-log FILE]');
  process.exit(2);
}
const WS = `ws://${opts.server}/`;
const PLAIN_WS = `ws://${opts['plain-server']}/`;
const CONSOLE = opts.console ?? `http://${opts.server}/`;

// Flags from shared/notes: without the background-networking ones Chromium stalls on the
// closed network. Playwright gives every launch a fresh temporary profile directory.
// --ignore-certificate-errors lets the TLS servers' throwaway self-signed certificates
// through, for pages and WebSockets alike (and for this test only).
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--ignore-certificate-errors',
];

// Helpers defined in every test page. `T.open` resolves with an open socket whose messages
// queue up for `T.next`, or rejects with the close event's details if it never opens.
const PAGE_HELPERS = `(() => {
  window.T = {
    open(url, protocols = [], binaryType = 'blob') {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(url, protocols);
        ws.binaryType = binaryType;
        ws.inbox = [];
        ws.waiters = [];
        ws.closed = new Promise((done) => {
          ws.onclose = (e) => {
            const info = { code: e.code, reason: e.reason, wasClean: e.wasClean };
            done(info);
            reject(new Error('closed before open: ' + JSON.stringify(info)));
            for (const w of ws.waiters.splice(0)) w.fail(new Error('closed: ' + JSON.stringify(info)));
          };
        });
        ws.onmessage = (e) => {
          const w = ws.waiters.shift();
          if (w) w.take(e.data); else ws.inbox.push(e.data);
        };
        ws.onopen = () => resolve(ws);
      });
    },
    next(ws) {
      if (ws.inbox.length) return Promise.resolve(ws.inbox.shift());
      return new Promise((take, fail) => ws.waiters.push({ take, fail }));
    },
    async take(ws, n) {
      const out = [];
      for (let i = 0; i < n; i++) out.push(await T.next(ws));
      return out;
    },
    async bytes(data) {
      if (data instanceof ArrayBuffer) return new Uint8Array(data);
      if (data instanceof Blob) return new Uint8Array(await data.arrayBuffer());
      throw new Error('not binary: ' + typeof data);
    },
    same(a, b) {
      if (a.length !== b.length) return false;
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
      return true;
    },
    // FNV-1a over 32-bit words and the length: enough to tell two buffers apart here.
    checksum(bytes) {
      let h = 0x811c9dc5 ^ bytes.length;
      const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
      for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x01000193);
      for (let i = words.length * 4; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
      return (h >>> 0).toString(16).padStart(8, '0');
    },
    async close(ws) {
      if (ws.readyState <= 1) ws.close(1000);
      return ws.closed;
    },
  };
})()`;

// Every check has its own timeout, and all of them together stay within this budget, so
// that a run where everything hangs still ends with a summary.
const BUDGET_MS = 90000;
const budgetEnds = Date.now() + BUDGET_MS;
const results = [];
let browser;
let blankPage;

// Test pages come from a loopback origin of our own: Chromium's local network access
// checks may block a page of no address space (a navigated about:blank) from reaching
// 127.0.0.1, and a real page on localhost is what a developer would use anyway.
function serveBlankPage() {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end('<!doctype html><meta charset="utf-8"><title>sockeye browser tests</title>');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms (${what})`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// The log of a TLS server (RUST_LOG=debug) since byte `offset`, and its lines that tell
// which protocol carried a connection: `http/2 connection open` (a TLS connection that
// chose h2 by ALPN), `connection open over http/2` (a WebSocket on one of its streams) and
// a plain `connection open` (a WebSocket over HTTP/1.1).
function serverLog(file, offset) {
  const lines = readFileSync(file).subarray(offset).toString('utf8').split('\n');
  return {
    http2Connections: lines.filter((l) => /\bhttp\/2 connection open\b/.test(l)),
    overHttp2: lines.filter((l) => /\bconnection open over http\/2\b/.test(l)),
    overHttp1: lines.filter((l) => /: connection open( |$)/.test(l) && !/over http\/2/.test(l)),
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

function expectEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

// Runs one named check in a fresh page, loaded from the URL `start()` returns (default: the
// blank page); a string that `body(page)` returns is printed under the check's ok line.
// `body(page)` throws to fail. A check that passes its timeout fails, and its page is
// closed, which abandons whatever it was waiting for.
async function check(name, timeoutMs, body, start = () => blankPage) {
  const started = Date.now();
  timeoutMs = Math.min(timeoutMs, budgetEnds - started);
  let page;
  try {
    if (timeoutMs <= 0) throw new Error(`not run: the ${BUDGET_MS / 1000} s budget for all checks is spent`);
    page = await browser.newPage();
    const note = await withTimeout((async () => {
      const url = start();
      const response = await page.goto(url, { timeout: 5000 });
      expect(response && response.ok(), `GET ${url}: ${response ? response.status() : 'no response'}`);
      await page.evaluate(PAGE_HELPERS);
      return body(page);
    })(), timeoutMs, name);
    results.push({ name, ok: true });
    console.log(`ok      ${name} (${Date.now() - started} ms)`);
    if (typeof note === 'string') console.log(`        ${note}`);
  } catch (error) {
    results.push({ name, ok: false });
    console.log(`FAILED  ${name} (${Date.now() - started} ms)\n        ${String(error.message ?? error).replace(/\s+/g, ' ').slice(0, 400)}`);
  } finally {
    await page?.close().catch(() => {});
  }
}

async function main() {
  const pages = await serveBlankPage();
  blankPage = `http://127.0.0.1:${pages.address().port}/`;
  pages.unref();
  browser = await withTimeout(
    chromium.launch({ executablePath: opts.chromium, args: FLAGS, timeout: 30000 }),
    35000, 'launching Chromium');
  console.log(`Chromium ${browser.version()}; server ${WS}, no-deflate server ${PLAIN_WS}`
    + (opts['tls-h2-server'] ? `, TLS server (h2) ${opts['tls-h2-server']}` : '')
    + (opts['tls-h1-server'] ? `, TLS server (--no-http2) ${opts['tls-h1-server']}` : '') + '\n');

  await check('subprotocol: the first of the client\'s offers that the server knows is picked', 6000, async (page) => {
    const got = await page.evaluate(async (url) => {
      const picked = [];
      for (const offer of [['nope', 'chat'], ['superchat', 'chat'], ['chat', 'superchat'], []]) {
        const ws = await T.open(url, offer);
        picked.push(ws.protocol);
        await T.close(ws);
      }
      return picked;
    }, WS);
    expectEqual(got, ['chat', 'superchat', 'chat', ''], 'protocol for [nope,chat], [superchat,chat], [chat,superchat], []');
  });

  await check('subprotocol: an offer the server does not know fails the handshake', 6000, async (page) => {
    const got = await page.evaluate(async (url) => {
      try {
        const ws = await T.open(url, ['nope']);
        return { opened: true, protocol: ws.protocol };
      } catch (e) {
        return { opened: false, why: e.message };
      }
    }, WS);
    expect(!got.opened, `expected no connection, got one with protocol ${JSON.stringify(got.protocol)}`);
    expect(/"code":1006/.test(got.why), `expected close code 1006, got ${got.why}`);
  });

  await check('text: ASCII, 2-, 3- and 4-byte UTF-8 and the empty string echoed exactly', 6000, async (page) => {
    const got = await page.evaluate(async (url) => {
      const texts = ['hello, sockeye', 'ÅÄÖ é ß ©', '€ 中文 ひらがな \u2028', '🐟 𝄞 😀🚀', '', 'mixed: a é € 🐟'];
      const ws = await T.open(url);
      for (const t of texts) ws.send(t);
      const back = await T.take(ws, texts.length);
      await T.close(ws);
      return { texts, back, types: back.map((d) => typeof d) };
    }, WS);
    expectEqual(got.types, got.texts.map(() => 'string'), 'message types');
    expectEqual(got.back, got.texts, 'echoed texts');
  });

  for (const binaryType of ['arraybuffer', 'blob']) {
    await check(`binary (binaryType ${binaryType}): ArrayBuffer of all 256 byte values, view, Blob, empty`, 6000, async (page) => {
      const got = await page.evaluate(async ([url, binaryType]) => {
        const all = new Uint8Array(256).map((_, i) => i);
        const view = new Uint8Array(1000).map((_, i) => (i * 7) & 255).subarray(100, 300);
        const blobBytes = new Uint8Array(4096).map((_, i) => (i * 31 + 7) & 255);
        const sent = [all, view, blobBytes, new Uint8Array(0), new Uint8Array(0)];
        const ws = await T.open(url, [], binaryType);
        ws.send(all.buffer);
        ws.send(view);
        ws.send(new Blob([blobBytes]));
        ws.send(new ArrayBuffer(0));
        ws.send(new Blob([]));
        const back = await T.take(ws, sent.length);
        await T.close(ws);
        const want = binaryType === 'blob' ? Blob : ArrayBuffer;
        const report = [];
        for (let i = 0; i < sent.length; i++) {
          const bytes = await T.bytes(back[i]);
          report.push({ type: back[i] instanceof want, same: T.same(bytes, sent[i]), len: bytes.length, want: sent[i].length });
        }
        return report;
      }, [WS, binaryType]);
      got.forEach((r, i) => {
        expect(r.type, `message ${i}: not delivered as ${binaryType}`);
        expect(r.same, `message ${i}: ${r.len} bytes came back for ${r.want} sent, or they differ`);
      });
    });
  }

  await check('large: a 16 MiB binary message echoed intact', 25000, async (page) => {
    const got = await page.evaluate(async (url) => {
      const size = 16 * 1024 * 1024;
      const data = new Uint8Array(size);
      // xorshift: cheap, and hardly compressible, so deflate cannot shrink the test away.
      let x = 0x9e3779b9;
      const words = new Uint32Array(data.buffer);
      for (let i = 0; i < words.length; i++) {
        x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
        words[i] = x;
      }
      const ws = await T.open(url, [], 'arraybuffer');
      const t0 = performance.now();
      ws.send(data);
      const back = new Uint8Array(await T.next(ws));
      const ms = Math.round(performance.now() - t0);
      await T.close(ws);
      return { sent: T.checksum(data), back: T.checksum(back), len: back.length, same: T.same(back, data), ms };
    }, WS);
    expectEqual(got.len, 16 * 1024 * 1024, 'echoed length');
    expect(got.same && got.sent === got.back, `checksums differ: sent ${got.sent}, got ${got.back}`);
  });

  await check('burst: 1000 messages sent at once come back in order', 10000, async (page) => {
    const got = await page.evaluate(async (url) => {
      const ws = await T.open(url);
      const sent = [];
      for (let i = 0; i < 1000; i++) {
        const text = `#${i} ` + 'x'.repeat(i % 97);
        sent.push(text);
        ws.send(text);
      }
      const back = await T.take(ws, sent.length);
      await T.close(ws);
      const first = back.findIndex((t, i) => t !== sent[i]);
      return { count: back.length, first, at: first >= 0 ? back[first].slice(0, 20) : null };
    }, WS);
    expect(got.first === -1, `message ${got.first} out of place: got ${JSON.stringify(got.at)}`);
  });

  await check('permessage-deflate: negotiated, and compressible messages round-trip', 6000, async (page) => {
    const got = await page.evaluate(async (url) => {
      const ws = await T.open(url);
      const text = 'sockeye '.repeat(20000);
      const bytes = new Uint8Array(100000);
      ws.send(text);
      ws.send(bytes);
      const [t, b] = await T.take(ws, 2);
      await T.close(ws);
      return { extensions: ws.extensions, text: t === text, bytes: T.same(await T.bytes(b), bytes) };
    }, WS);
    expect(/(^|[\s,])permessage-deflate(\s*[;,]|$)/.test(got.extensions), `extensions: ${JSON.stringify(got.extensions)}`);
    expect(got.text && got.bytes, 'compressible messages came back different');
  });

  await check('permessage-deflate: not negotiated with serve --no-deflate', 6000, async (page) => {
    const got = await page.evaluate(async (url) => {
      const ws = await T.open(url);
      ws.send('plain');
      const back = await T.next(ws);
      await T.close(ws);
      return { extensions: ws.extensions, back };
    }, PLAIN_WS);
    expectEqual(got.extensions, '', 'extensions');
    expectEqual(got.back, 'plain', 'echo');
  });

  await check("close: close(4000, 'bye') ends cleanly with 4000 and 'bye'", 6000, async (page) => {
    const got = await page.evaluate(async (url) => {
      const ws = await T.open(url);
      ws.close(4000, 'bye');
      const state = ws.readyState;
      return { state, ...(await ws.closed) };
    }, WS);
    expectEqual(got.state, 2, 'readyState right after close()');
    expectEqual({ wasClean: got.wasClean, code: got.code, reason: got.reason },
      { wasClean: true, code: 4000, reason: 'bye' }, 'close event');
  });

  await check('dev console: connect, echo text and binary, screenshot, disconnect', 12000, async (page) => {
    await page.setViewportSize({ width: 1100, height: 760 });
    const response = await page.goto(CONSOLE, { timeout: 5000 });
    expect(response && response.ok(), `GET ${CONSOLE}: ${response ? response.status() : 'no response'}`);
    const url = page.locator('#url');
    if (new URL(CONSOLE).host === opts.server) {
      expectEqual(await url.inputValue(), WS, 'default #url');
    } else {
      await url.fill(WS);
    }
    await page.fill('#protocols', 'nope, chat');
    await page.click('#connect');
    const open = page.locator('#log .event[data-type="open"]');
    await open.waitFor({ timeout: 5000 });
    const openText = await open.innerText();
    expect(openText.includes('"chat"') && openText.includes('permessage-deflate'),
      `open event should show protocol "chat" and permessage-deflate: ${openText}`);
    expect((await page.innerText('#state')).startsWith('OPEN'), `#state: ${await page.innerText('#state')}`);

    const text = 'Hello from Chromium: é ü € ✓';
    await page.fill('#message', text);
    await page.click('#send-text');
    await page.locator('#log .event[data-type="message"]', { hasText: text }).waitFor({ timeout: 5000 });
    await page.fill('#message', '00 01 7f 80 fe ff');
    await page.click('#send-binary');
    await page.locator('#log .event[data-type="message"]', { hasText: '00 01 7f 80 fe ff' }).waitFor({ timeout: 5000 });
    await page.locator('#log .event[data-type="sent"]').nth(1).waitFor({ timeout: 1000 });
    // #buffered is sampled, so it may show the sent bytes for a moment.
    await page.waitForFunction(() => document.getElementById('buffered').textContent === '0', null, { timeout: 2000 })
      .catch(async () => { throw new Error(`#buffered after the echoes: ${await page.innerText('#buffered')}`); });

    await page.fill('#close-reason', 'done');
    await page.click('#disconnect');
    const close = page.locator('#log .event[data-type="close"]');
    await close.waitFor({ timeout: 5000 });
    const closeText = await close.innerText();
    // The reason shown is the one in the server's reply, which need not repeat ours.
    expect(/code: 1000/.test(closeText) && /reason: "/.test(closeText) && /wasClean: true/.test(closeText),
      `close event: ${closeText}`);
    await page.locator('#state', { hasText: 'CLOSED' }).waitFor({ timeout: 2000 });
    expect(await page.isEnabled('#connect'), '#connect is enabled again after the close');

    mkdirSync(dirname(opts.screenshot), { recursive: true });
    await page.screenshot({ path: opts.screenshot, fullPage: true });
  });

  // wss:// from a page of the TLS server's own https origin (a secure page may only open
  // wss://, and the socket is then same-origin): the page load gives Chromium a connection
  // to the origin, over h2 when ALPN picked it, which advertised SETTINGS_ENABLE_CONNECT_
  // PROTOCOL, so Chromium carries the WebSocket on a stream of it (RFC 8441). With
  // --no-http2 everything goes over HTTP/1.1. The server's debug log says which it was.
  const tlsServers = [
    { addr: opts['tls-h2-server'], log: opts['tls-h2-log'], http2: true, label: 'HTTP/2', flags: '' },
    { addr: opts['tls-h1-server'], log: opts['tls-h1-log'], http2: false, label: 'HTTP/1.1', flags: ' --no-http2' },
  ];
  for (const tls of tlsServers) {
    if (!tls.addr) continue;
    const port = new URL(`https://${tls.addr}/`).port;
    const origin = `https://localhost:${port}`;
    const wss = `wss://localhost:${port}/`;
    const serve = `serve --tls-self-signed${tls.flags}`;
    let session = null;
    let mark = 0;

    await check(`wss (${serve}): from ${origin}/, echo UTF-8 text, 256 byte values, 1 MiB; close(4000, 'bye')`, 15000, async (page) => {
      const got = await page.evaluate(async (url) => {
        const nav = performance.getEntriesByType('navigation')[0];
        const text = 'wss: ÅÄÖ é € 中文 ひらがな 🐟 𝄞';
        const all = new Uint8Array(256).map((_, i) => i);
        const big = new Uint8Array(1024 * 1024);
        let x = 0x2545f491;
        const words = new Uint32Array(big.buffer);
        for (let i = 0; i < words.length; i++) {
          x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
          words[i] = x;
        }
        const ws = await T.open(url, ['chat'], 'arraybuffer');
        ws.send(text);
        ws.send(all.buffer);
        ws.send(big);
        const [t, b, l] = await T.take(ws, 3);
        ws.close(4000, 'bye');
        const closed = await ws.closed;
        return {
          origin: location.origin,
          nextHopProtocol: nav.nextHopProtocol,
          protocol: ws.protocol,
          extensions: ws.extensions,
          types: [typeof t, b instanceof ArrayBuffer, l instanceof ArrayBuffer],
          text: t === text ? 'same' : t,
          bytes: b instanceof ArrayBuffer && T.same(new Uint8Array(b), all),
          big: l instanceof ArrayBuffer ? { len: l.byteLength, same: T.same(new Uint8Array(l), big) } : null,
          closed,
        };
      }, wss);
      session = { nextHopProtocol: got.nextHopProtocol };
      expectEqual(got.origin, origin, 'page origin');
      expectEqual(got.protocol, 'chat', 'subprotocol');
      expect(/(^|[\s,])permessage-deflate(\s*[;,]|$)/.test(got.extensions), `extensions: ${JSON.stringify(got.extensions)}`);
      expectEqual(got.types, ['string', true, true], 'message types (text, ArrayBuffer, ArrayBuffer)');
      expectEqual(got.text, 'same', 'echoed text');
      expect(got.bytes, 'the 256 byte values came back different');
      expectEqual(got.big, { len: 1024 * 1024, same: true }, '1 MiB echo');
      expectEqual(got.closed, { code: 4000, reason: 'bye', wasClean: true }, 'close event');
    }, () => {
      // Marked before the page loads: the log from here on is this check's alone.
      mark = statSync(tls.log).size;
      return `${origin}/`;
    });

    await check(`wss (${serve}): page and socket went over ${tls.label} (nextHopProtocol, server log)`, 5000, async () => {
      expect(session, 'no session: the check before did not get as far as the page load');
      // The server logs a socket's opening before its first message is echoed, but poll a
      // little in case the log is behind.
      let log;
      for (let i = 0; i < 20; i++) {
        log = serverLog(tls.log, mark);
        if (log.overHttp2.length + log.overHttp1.length > 0) break;
        await sleep(100);
      }
      const seen = `nextHopProtocol ${session.nextHopProtocol}; server log: `
        + ([...log.http2Connections, ...log.overHttp2, ...log.overHttp1]
          .map((l) => l.replace(/^.*?sockeye::serve: /, '')).join('; ') || 'no connection open lines');
      if (tls.http2) {
        expectEqual(session.nextHopProtocol, 'h2', `the page's nextHopProtocol (${seen})`);
        expect(log.http2Connections.length >= 1, `the server log shows no \`http/2 connection open\` (${seen})`);
        expect(log.overHttp2.length === 1 && log.overHttp1.length === 0,
          `the server log should show the WebSocket as one \`connection open over http/2\` and no HTTP/1.1 \`connection open\`; `
          + `it shows ${log.overHttp2.length} over http/2 and ${log.overHttp1.length} over HTTP/1.1 (${seen})`);
      } else {
        expectEqual(session.nextHopProtocol, 'http/1.1', `the page's nextHopProtocol (${seen})`);
        expect(log.overHttp1.length === 1 && log.overHttp2.length === 0 && log.http2Connections.length === 0,
          `the server log should show the WebSocket as one HTTP/1.1 \`connection open\` and nothing over http/2; `
          + `it shows ${log.overHttp1.length} over HTTP/1.1, ${log.overHttp2.length} over http/2 `
          + `and ${log.http2Connections.length} http/2 connections (${seen})`);
      }
      return seen;
    });
  }
}

const started = Date.now();
try {
  await main();
} catch (error) {
  results.push({ name: 'harness', ok: false });
  console.log(`FAILED  harness: ${error.message}`);
} finally {
  await browser?.close().catch(() => {});
}
const failed = results.filter((r) => !r.ok);
console.log(`\n${results.length - failed.length} passed, ${failed.length} failed (${((Date.now() - started) / 1000).toFixed(1)} s)`);
for (const r of failed) console.log(`  failed: ${r.name}`);
process.exit(failed.length ? 1 : 0);
