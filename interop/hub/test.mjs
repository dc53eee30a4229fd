// `sockeye hub` against socket.io-client 4.8 in Node and an EventSource in Chromium (Debian's,
// driven by playwright-core):
//
// - JWT: no token and a forged token refused with the reason; a token expiring in 2 s
//   disconnects its socket at expiry (after a `token-expired` event); one refreshed in band
//   (`refresh`, same `sub`) stays connected past the first expiry;
// - the HTTP API: `POST /api/emit` to a room reaches its members and no one else, `except`
//   leaves members out, `POST /api/disconnect` by socket id disconnects that client;
// - an EventSource on a page of another loopback origin receives a room's events, and after
//   `POST /api/disconnect` of the room ends its stream, reconnects by itself with
//   Last-Event-ID and gets the events sent meanwhile, none twice;
// - with --redis URL (the hub running with --adapter URL): a Node socket.io 4.8 server on
//   @socket.io/redis-adapter 8.3 and the same Redis is one cluster with the hub: the hub's API
//   emits reach the Node server's clients, the Node server's room broadcasts reach the hub's,
//   and each side's socket listings (GET /api/sockets, fetchSockets) show the other's sockets.
//
//   node test.mjs --server http://127.0.0.1:PORT --secret S --key K [--chromium PATH] [--redis URL]
//
// The hub must run with --jwt-secret S --api-key K. Prints `ok NAME` or `FAILED NAME: WHY` per
// check and a summary line; exits 1 if any check failed.

import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { Server } from 'socket.io';
import { io } from 'socket.io-client';
import { chromium } from 'playwright-core';

const { values: opts } = parseArgs({
  options: {
    server: { type: 'string' },
    secret: { type: 'string' },
    key: { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    redis: { type: 'string' },
  },
});
if (!opts.server || !opts.secret || !opts.key) {
  console.error('usage: node test.mjs --server URL --secret S --key K [--chromium PATH]');
  process.exit(2);
}

// Every wait of a check ends within this.
const WAIT_MS = 8000;
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
function jwt(claims, secret = opts.secret) {
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}
const now = () => Math.floor(Date.now() / 1000);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function within(promise, what, ms = WAIT_MS) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

async function api(path, body) {
  const response = await fetch(`${opts.server}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${opts.key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

const clients = [];
function client(token) {
  const socket = io(opts.server, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    reconnection: false,
  });
  clients.push(socket);
  return socket;
}

function connected(socket) {
  return within(new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', (error) => reject(new Error(`refused: ${error.message}`)));
  }), 'connect');
}

function refusal(socket) {
  return within(new Promise((resolve, reject) => {
    socket.once('connect', () => reject(new Error('connected')));
    socket.once('connect_error', (error) => resolve(error.message));
  }), 'connect_error');
}

function next(socket, event) {
  return within(new Promise((resolve) => socket.once(event, (...args) => resolve(args))), event);
}

async function silent(socket, event, ms = 400) {
  let heard = null;
  const listener = (...args) => { heard = args; };
  socket.on(event, listener);
  await sleep(ms);
  socket.off(event, listener);
  if (heard) throw new Error(`heard ${event} ${JSON.stringify(heard)}`);
}

function expect(condition, why) {
  if (!condition) throw new Error(why);
}

const checks = {
  async 'jwt: no token and a forged token are refused with the reason'() {
    const none = await refusal(client());
    expect(none.includes('no token'), `no token: ${none}`);
    const forged = await refusal(client(jwt({ sub: 'ann', exp: now() + 60 }, 'not-the-secret')));
    expect(forged === 'invalid token signature', `forged: ${forged}`);
    const old = await refusal(client(jwt({ sub: 'ann', exp: now() - 5 })));
    expect(old === 'token expired', `expired: ${old}`);
  },

  async 'jwt: a socket is disconnected at its token expiry'() {
    const socket = client(jwt({ sub: 'ann', exp: now() + 2, rooms: ['a'] }));
    await connected(socket);
    const told = next(socket, 'token-expired');
    const [reason] = await next(socket, 'disconnect');
    await told;
    expect(reason === 'io server disconnect', `reason ${reason}`);
  },

  async 'jwt: a refreshed token keeps the socket past the first expiry'() {
    const socket = client(jwt({ sub: 'bob', exp: now() + 2, rooms: ['lobby'] }));
    await connected(socket);
    const other = await socket.timeout(WAIT_MS).emitWithAck('refresh', jwt({ sub: 'eve', exp: now() + 60, rooms: ['*'] }));
    expect(other.ok === false, `another subject accepted: ${JSON.stringify(other)}`);
    const fresh = await socket.timeout(WAIT_MS).emitWithAck('refresh', jwt({ sub: 'bob', exp: now() + 60, rooms: ['lobby', 'more'] }));
    expect(fresh.ok === true, JSON.stringify(fresh));
    await silent(socket, 'disconnect', 3500);
    expect(socket.connected, 'not connected');
    const joined = await socket.timeout(WAIT_MS).emitWithAck('join', 'more');
    expect(joined.ok === true, `the new token's room: ${JSON.stringify(joined)}`);
  },

  async 'api: emits reach the room, except and disconnect work'() {
    const token = jwt({ sub: 'c', exp: now() + 60, rooms: ['news', 'vip'] });
    const [member, vip, outsider] = [client(token), client(token), client(token)];
    await Promise.all([member, vip, outsider].map(connected));
    for (const socket of [member, vip]) {
      const ack = await socket.timeout(WAIT_MS).emitWithAck('join', 'news');
      expect(ack.ok, JSON.stringify(ack));
    }
    expect((await vip.timeout(WAIT_MS).emitWithAck('join', 'vip')).ok, 'join vip');
    const denied = await outsider.timeout(WAIT_MS).emitWithAck('join', 'staff');
    expect(denied.ok === false, 'a room outside the token was joined');

    const heard = next(member, 'update');
    await api('/api/emit', { rooms: ['news'], event: 'update', args: [1, { text: 'héllo' }] });
    const args = await heard;
    expect(JSON.stringify(args.slice(0, 2)) === JSON.stringify([1, { text: 'héllo' }]), JSON.stringify(args));
    await silent(outsider, 'update');

    const memberHears = next(member, 'flash');
    await api('/api/emit', { rooms: ['news'], except: ['vip'], event: 'flash', args: [] });
    await memberHears;
    await silent(vip, 'flash');

    const gone = next(vip, 'disconnect');
    await api('/api/disconnect', { id: vip.id });
    expect((await gone)[0] === 'io server disconnect', 'reason');
  },

  async 'sse: an EventSource in Chromium gets a room and resumes with Last-Event-ID'() {
    const token = jwt({ sub: 'reader', exp: now() + 120, rooms: ['feed'] });
    const page = await browserPage();
    const url = `${opts.server}/sse?rooms=feed&token=${token}`;
    await page.evaluate((url) => {
      window.got = [];
      window.opens = 0;
      const source = new EventSource(url);
      source.addEventListener('open', () => { window.opens += 1; });
      source.addEventListener('tick', (e) => window.got.push({ id: e.lastEventId, data: JSON.parse(e.data) }));
    }, url);
    await page.waitForFunction(() => window.opens === 1, null, { timeout: WAIT_MS });
    await api('/api/emit', { rooms: ['feed'], event: 'tick', args: [1] });
    await api('/api/emit', { rooms: ['other'], event: 'tick', args: [99] });
    await page.waitForFunction(() => window.got.length === 1, null, { timeout: WAIT_MS });
    // End the stream, and send while the browser is away (it retries after 1 s).
    const closed = await api('/api/disconnect', { room: 'feed' });
    expect(closed.sse_closed === 1, JSON.stringify(closed));
    await api('/api/emit', { rooms: ['feed'], event: 'tick', args: [2] });
    await api('/api/emit', { rooms: ['feed'], event: 'tick', args: [3] });
    await page.waitForFunction(() => window.opens === 2 && window.got.length >= 3, null, { timeout: WAIT_MS });
    await api('/api/emit', { rooms: ['feed'], event: 'tick', args: [4] });
    await page.waitForFunction(() => window.got.length >= 4, null, { timeout: WAIT_MS });
    const got = await page.evaluate(() => window.got);
    const data = got.map((e) => e.data[0]);
    expect(JSON.stringify(data) === '[1,2,3,4]', `events ${JSON.stringify(got)}`);
  },
};

// A Node socket.io server on the hub's Redis; its clients join the rooms their auth names.
let nodeServer;
let redisClients = [];
async function startNodeServer() {
  const pub = createClient({ url: opts.redis });
  const sub = pub.duplicate();
  redisClients = [pub, sub];
  for (const c of redisClients) c.on('error', () => {});
  await Promise.all(redisClients.map((c) => c.connect()));
  const http = createServer();
  nodeServer = new Server(http, { adapter: createAdapter(pub, sub) });
  nodeServer.on('connection', (socket) => {
    for (const room of socket.handshake.auth.rooms ?? []) socket.join(room);
  });
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${http.address().port}`;
}

if (opts.redis) {
  checks['cluster: a Node socket.io server on the same Redis is one cluster with the hub'] = async () => {
    const nodeUrl = await startNodeServer();
    const onNode = io(nodeUrl, { auth: { rooms: ['news'] }, transports: ['websocket'], reconnection: false });
    clients.push(onNode);
    const onHub = client(jwt({ sub: 'dora', exp: now() + 60, rooms: ['news'] }));
    await Promise.all([onNode, onHub].map(connected));
    expect((await onHub.timeout(WAIT_MS).emitWithAck('join', 'news')).ok, 'join news');

    // The hub's socket listing shows the Node server's client, and Node's fetchSockets the hub's.
    const listed = await within((async () => {
      for (;;) {
        const response = await fetch(`${opts.server}/api/sockets?room=news`, {
          headers: { authorization: `Bearer ${opts.key}` },
        });
        const body = await response.text();
        if (body.includes(onNode.id) && body.includes(onHub.id)) return body;
        await sleep(100);
      }
    })(), 'the hub listing both sockets');
    expect(listed.includes(onNode.id), listed);
    const fetched = (await nodeServer.in('news').fetchSockets()).map((s) => s.id);
    expect(fetched.includes(onHub.id) && fetched.includes(onNode.id), `fetchSockets: ${JSON.stringify(fetched)}`);

    const nodeHears = next(onNode, 'update');
    const hubHears = next(onHub, 'update');
    await api('/api/emit', { rooms: ['news'], event: 'update', args: ['from the hub'] });
    expect((await nodeHears)[0] === 'from the hub', 'the Node client');
    expect((await hubHears)[0] === 'from the hub', 'the hub client');

    const heard = next(onHub, 'scoop');
    const nodeToo = next(onNode, 'scoop');
    nodeServer.to('news').emit('scoop', 'from node');
    expect((await heard)[0] === 'from node', 'the hub client hears Node');
    expect((await nodeToo)[0] === 'from node', 'the Node client hears Node');
  };
}

let browser;
let pages;
async function browserPage() {
  // The page comes from a loopback server of its own: the stream is cross-origin.
  pages = createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>hub</title>');
  });
  await new Promise((resolve) => pages.listen(0, '127.0.0.1', resolve));
  browser = await chromium.launch({ executablePath: opts.chromium, args: FLAGS });
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${pages.address().port}/`);
  return page;
}

let failed = 0;
for (const [name, check] of Object.entries(checks)) {
  try {
    await within(check(), name, 30000);
    console.log(`ok ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`FAILED ${name}: ${error.message}`);
  }
}
for (const socket of clients) socket.close();
nodeServer?.close();
await Promise.all(redisClients.map((c) => c.quit().catch(() => {})));
await browser?.close();
pages?.close();
console.log(`${Object.keys(checks).length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
