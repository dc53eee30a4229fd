// The page-level checks of sockeye-io's Socket.IO server from socket.io-client's browser
// bundle (window.io), the same list as socketio-client.mjs with ArrayBuffer and Uint8Array
// for binary. test.mjs loads this page with ?server=URL and calls `runCheck(name)`, which
// resolves with `{ ok: true }` or `{ ok: false, error }`; `CHECKS` lists the names
// (`FALLBACK_CHECKS` those for a page whose WebSockets fail, `RECOVERY_CHECKS` those for a
// server with connection state recovery on).
//
// The server (crates/io/examples/socketio-interop-server.rs) listens on another port than
// the page, so every request here is cross-origin and relies on the server's CORS answers.

(() => {
  const params = new URLSearchParams(location.search);
  const URL = params.get('server');
  // Every check ends within this many milliseconds, or fails.
  const CHECK_LIMIT = 8000;
  // How long a check waits to be sure that something does not arrive.
  const QUIET = 300;
  // The msgpack bundle's encoder (notepack.io's browser build) writes only an ArrayBuffer as
  // msgpack binary: a Uint8Array becomes a map of its indices. The default parser takes both.
  const MSGPACK = params.get('parser') === 'msgpack';
  const bin = (bytes) => (MSGPACK ? new Uint8Array(bytes).buffer : new Uint8Array(bytes));

  const open = new Set();

  function connect(nsp = '/', options = {}) {
    const socket = io(URL + nsp, { forceNew: true, reconnection: false, ...options });
    open.add(socket);
    return socket;
  }

  function withLimit(promise, what) {
    let timer;
    const limit = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), CHECK_LIMIT);
    });
    return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
  }

  function once(socket, event) {
    return withLimit(new Promise((resolve) => socket.once(event, (...args) => resolve(args))), event);
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  async function connected(socket) {
    if (socket.connected) return socket;
    const outcome = await withLimit(
      new Promise((resolve) => {
        socket.once('connect', () => resolve(null));
        socket.once('connect_error', (error) => resolve(error));
      }),
      'the connection',
    );
    if (outcome) throw new Error(`connect_error: ${outcome.message}`);
    return socket;
  }

  // Emits `event` and resolves with every argument of its acknowledgement.
  function ack(socket, event, ...args) {
    return withLimit(
      new Promise((resolve, reject) =>
        socket.timeout(CHECK_LIMIT).emit(event, ...args, (error, ...reply) => (error ? reject(error) : resolve(reply))),
      ),
      `the ack of ${event}`,
    );
  }

  // Binary arrives as ArrayBuffer; compare every byte-like value as a list of bytes.
  function normalize(value) {
    if (value instanceof ArrayBuffer) return { bytes: Array.from(new Uint8Array(value)) };
    if (ArrayBuffer.isView(value)) {
      return { bytes: Array.from(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) };
    }
    if (Array.isArray(value)) return value.map(normalize);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
    }
    return value;
  }

  // Structural equality of normalized values (key order ignored).
  function same(a, b) {
    if (a === b) return true;
    if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
    if (Array.isArray(a) !== Array.isArray(b)) return false;
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((key) => Object.prototype.hasOwnProperty.call(b, key) && same(a[key], b[key]));
  }

  function expectSame(got, want, what) {
    if (!same(normalize(got), normalize(want))) {
      throw new Error(`${what}: got ${JSON.stringify(normalize(got))}, want ${JSON.stringify(normalize(want))}`);
    }
  }

  function expect(condition, what) {
    if (!condition) throw new Error(what);
  }

  // Resolves when the socket's engine upgraded, with the transport it opened on.
  function upgraded(socket) {
    return new Promise((resolve) =>
      socket.io.once('open', () => {
        const initial = socket.io.engine.transport.name;
        socket.io.engine.once('upgrade', () => resolve(initial));
      }),
    );
  }

  const checks = {
    async 'connect with auth'() {
      const socket = connect('/', { auth: { token: 'abc', n: 1 } });
      const auth = once(socket, 'auth');
      await connected(socket);
      expectSame((await auth)[0], { token: 'abc', n: 1 }, 'auth');
      expect(socket.id && socket.id.length > 0, 'the socket has no id');
    },

    async 'refused connect carries message and data'() {
      const socket = connect('/admin', { auth: { token: 'wrong' } });
      const [error] = await once(socket, 'connect_error');
      expectSame(error.message, 'not authorized', 'message');
      expectSame(error.data, { code: 403 }, 'data');
      const admitted = connect('/admin', { auth: { token: 'secret' } });
      const welcome = once(admitted, 'welcome');
      await connected(admitted);
      expectSame((await welcome)[0], 'admin', 'welcome');
    },

    async 'every argument type round-trips'() {
      const socket = await connected(connect());
      const args = [
        'text with ünïcode \u{1F980}',
        42,
        -1.5,
        null,
        true,
        { nested: { list: [1, 'two', { three: [false] }] } },
        [],
        bin([0, 1, 2, 255]),
        new Uint8Array([7, 8]).buffer,
        { file: bin(new TextEncoder().encode('inside an object')), list: [new Uint8Array([9]).buffer] },
      ];
      const back = await ack(socket, 'echo', ...args);
      expectSame(back, args, 'echoed arguments');
      expect(back[7] instanceof ArrayBuffer, 'binary did not come back as an ArrayBuffer');
    },

    async 'a typed reply holds a buffer'() {
      const socket = await connected(connect());
      const [reply] = await ack(socket, 'binary');
      expectSame(reply, { name: 'a.bin', body: new Uint8Array([0, 1, 2, 255]) }, 'reply');
    },

    async 'acks from the server to the client, and their timeout'() {
      const socket = await connected(connect());
      socket.on('question', (data, reply) => reply({ answer: data * 2 }));
      expectSame(await ack(socket, 'ask', 21), [{ answer: 42 }], 'answer');
      socket.off('question');
      socket.on('question', () => {}); // never answers
      const [late] = await ack(socket, 'ask', 1);
      expect(/timeout/i.test(late.error), `no timeout reported: ${JSON.stringify(late)}`);
    },

    async "the client's ack timeout fires when no ack comes"() {
      const socket = await connected(connect());
      let error = null;
      try {
        await socket.timeout(200).emitWithAck('no-such-event');
      } catch (e) {
        error = e;
      }
      expect(error && /timed out|timeout/i.test(error.message), `no timeout: ${error}`);
    },

    async 'rooms and broadcasts reach the right clients only'() {
      const [a, b, c] = await Promise.all([connect(), connect(), connect()].map(connected));
      await ack(a, 'join', 'red');
      await ack(b, 'join', 'red');
      const seen = { a: [], b: [], c: [] };
      for (const [name, s] of Object.entries({ a, b, c })) {
        s.on('room-message', (data) => seen[name].push(['room', data]));
        s.on('broadcast-message', (data) => seen[name].push(['all', data]));
      }
      // One at a time: messages from different senders may cross.
      const roomMessage = once(b, 'room-message');
      a.emit('to-room', 'red', 'for red');
      await roomMessage;
      const broadcasts = Promise.all([once(a, 'broadcast-message'), once(b, 'broadcast-message')]);
      c.emit('broadcast', 'for all');
      await broadcasts;
      await sleep(QUIET);
      expectSame(seen.a, [['all', 'for all']], 'a saw');
      expectSame(seen.b, [['room', 'for red'], ['all', 'for all']], 'b saw');
      expectSame(seen.c, [], 'c saw');
      const [rooms] = await ack(b, 'rooms');
      expectSame(rooms, ['red', b.id].sort(), "b's rooms");
      await ack(b, 'leave', 'red');
      a.emit('to-room', 'red', 'again');
      await sleep(QUIET);
      expectSame(seen.b.length, 2, 'messages b saw after leaving');
    },

    async 'volatile events arrive on a writable connection'() {
      const socket = await connected(connect('/', { transports: ['websocket'] }));
      const got = once(socket, 'volatile-message');
      socket.emit('volatile', 'maybe');
      expectSame(await got, ['maybe'], 'volatile');
    },

    async 'static and dynamic namespaces'() {
      const dynamic = connect('/dyn-123');
      const hello = once(dynamic, 'hello');
      await connected(dynamic);
      expectSame(await hello, ['/dyn-123'], 'hello');
      const refused = connect('/dyn-abc');
      const [error] = await once(refused, 'connect_error');
      expectSame(error.message, 'Invalid namespace', 'refusal');
    },

    async 'disconnect reasons on both sides'() {
      const monitor = await connected(connect('/monitor'));
      const reasons = [];
      monitor.on('disconnected', (info) => reasons.push(info));

      const kicked = await connected(connect());
      const kickedId = kicked.id;
      const clientSide = once(kicked, 'disconnect');
      kicked.emit('kick');
      expectSame((await clientSide)[0], 'io server disconnect', "the kicked client's reason");

      const leaving = await connected(connect());
      const leavingId = leaving.id;
      leaving.disconnect();

      const dropped = await connected(connect('/', { transports: ['websocket'] }));
      const droppedId = dropped.id;
      dropped.io.engine.close();

      await withLimit(
        (async () => {
          while (reasons.length < 3) await sleep(20);
        })(),
        'three disconnect reports',
      );
      const byId = Object.fromEntries(reasons.map((r) => [r.id, r.reason]));
      expectSame(byId[kickedId], 'server namespace disconnect', 'kick');
      expectSame(byId[leavingId], 'client namespace disconnect', 'disconnect()');
      expectSame(byId[droppedId], 'transport close', 'engine close');
    },

    async 'reconnects after a forced transport close'() {
      const socket = connect('/', { reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100 });
      await connected(socket);
      const firstId = socket.id;
      const gone = once(socket, 'disconnect');
      socket.io.engine.close();
      expectSame((await gone)[0], 'forced close', 'reason');
      await once(socket, 'connect');
      expect(socket.id !== firstId, 'the id did not change');
      expectSame(await ack(socket, 'echo', 'after'), ['after'], 'echo');
    },

    async 'polling only'() {
      const socket = await connected(connect('/', { transports: ['polling'] }));
      expectSame(socket.io.engine.transport.name, 'polling', 'transport');
      const bytes = bin([1, 2]);
      expectSame(await ack(socket, 'echo', 'p', bytes), ['p', bytes], 'echo');
      await sleep(1200); // two heartbeats at 500 ms
      expect(socket.connected, 'disconnected during the heartbeats');
    },

    async 'WebSocket only'() {
      const socket = await connected(connect('/', { transports: ['websocket'] }));
      expectSame(socket.io.engine.transport.name, 'websocket', 'transport');
      expectSame(await ack(socket, 'echo', 'w'), ['w'], 'echo');
    },

    async 'upgrade from polling'() {
      const socket = connect('/');
      // The engine exists once the manager opens; the upgrade cannot come before.
      const opened = upgraded(socket);
      await connected(socket);
      expectSame(await withLimit(opened, 'the upgrade'), 'polling', 'first transport');
      expectSame(socket.io.engine.transport.name, 'websocket', 'transport');
      expectSame(await ack(socket, 'echo', 'u'), ['u'], 'echo');
    },
  };

  // Run on a page whose WebSockets all fail (test.mjs closes each one as it opens): the
  // client must fall back to, or stay on, long-polling and still exchange events.
  const fallbackChecks = {
    async 'a failed upgrade leaves the session on polling'() {
      const socket = connect('/');
      const upgradeError = new Promise((resolve) =>
        socket.io.once('open', () => socket.io.engine.once('upgradeError', (e) => resolve(e))),
      );
      await connected(socket);
      await withLimit(upgradeError, 'the failed upgrade');
      expectSame(socket.io.engine.transport.name, 'polling', 'transport');
      const bytes = bin([5, 6]);
      expectSame(await ack(socket, 'echo', 'still polling', bytes), ['still polling', bytes], 'echo');
      const got = once(socket, 'room-message');
      await ack(socket, 'join', 'fallback');
      const other = await connected(connect('/', { transports: ['polling'] }));
      other.emit('to-room', 'fallback', 'over polling');
      expectSame(await got, ['over polling'], 'room message');
    },

    async 'WebSocket first falls back to polling'() {
      const socket = connect('/', { transports: ['websocket', 'polling'], tryAllTransports: true });
      await connected(socket);
      expectSame(socket.io.engine.transport.name, 'polling', 'transport');
      expectSame(await ack(socket, 'echo', 'fell back'), ['fell back'], 'echo');
      const [reply] = await ack(socket, 'binary');
      expectSame(reply, { name: 'a.bin', body: new Uint8Array([0, 1, 2, 255]) }, 'binary reply');
    },
  };

  // Run against a server started with --recovery: a client whose transport is closed under it
  // comes back with `recovered` true, its id and rooms, and the events sent meanwhile, in
  // order (as recovery.mjs checks from Node).
  async function recovers(transports) {
    const missed = 20;
    const a = connect('/', { transports, reconnection: true, reconnectionDelay: 300, reconnectionDelayMax: 300 });
    const b = connect('/', { transports });
    // The greeting is numbered: the client then has an offset to come back with.
    await Promise.all([once(a, 'auth'), connected(b)]);
    expect(a.recovered === false, 'a first connection is not recovered');
    const ticks = [];
    a.on('tick', (i) => ticks.push(i));
    await ack(a, 'join', 'red');
    const firstId = a.id;
    const lost = once(a, 'disconnect');
    a.io.engine.close();
    await lost;
    await ack(b, 'send-to', firstId, missed);
    const roomMessage = once(a, 'room-message');
    b.emit('to-room', 'red', 'while away');
    await once(a, 'connect');
    expect(a.recovered === true, 'recovered');
    expectSame(a.id, firstId, 'id');
    expectSame((await roomMessage)[0], 'while away', 'room message');
    await withLimit(
      (async () => {
        while (ticks.length < missed) await sleep(10);
      })(),
      'the missed ticks',
    );
    expectSame(ticks, Array.from({ length: missed }, (_, i) => i), 'ticks in order');
    const [rooms] = await ack(a, 'rooms');
    expect(rooms.includes('red'), `rooms ${rooms}`);
  }

  const recoveryChecks = {
    'recovery over WebSocket': () => recovers(['websocket']),
    'recovery over polling': () => recovers(['polling']),
  };

  window.CHECKS = Object.keys(checks);
  window.RECOVERY_CHECKS = Object.keys(recoveryChecks);
  window.FALLBACK_CHECKS = Object.keys(fallbackChecks);
  window.runCheck = async (name) => {
    const body = checks[name] ?? fallbackChecks[name] ?? recoveryChecks[name];
    if (!body) return { ok: false, error: `no check named ${name}` };
    try {
      await withLimit(body(), name);
      return { ok: true };
    } catch (error) {
      return { ok: false, error: String(error?.message ?? error) };
    } finally {
      for (const socket of open) socket.disconnect();
      open.clear();
    }
  };
})();
