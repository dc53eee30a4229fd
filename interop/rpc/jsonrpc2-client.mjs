// json-rpc-2.0's JSONRPCServerAndClient over `ws`, as a client of `interop-peer serve`
// (sockeye-rpc): calls by position and by name, errors, notifications, batches (requests
// and responses matched by id, notifications in them unanswered), a subscription, and the
// server calling this client back, inside a batch too; then, on a plain `ws` connection, the
// specification's section 7 examples of invalid messages (parse error, invalid request,
// empty and invalid batches, the mixed batch). Every frame of the library's connection is
// recorded and checked at the end: each response answers one of our requests exactly once,
// nothing else comes.
//
//   node jsonrpc2-client.mjs ws://127.0.0.1:PORT/
//
// Prints one line per check, `ok NAME` or `FAILED NAME: WHY`; exits with 0 only when every
// check passed.

import { JSONRPCClient, JSONRPCErrorException, JSONRPCServer, JSONRPCServerAndClient } from 'json-rpc-2.0';
import { WebSocket } from 'ws';

import { Checks, Wire, eventually, same, sameError, sleep } from './checks.mjs';

const url = process.argv[2];
if (!url) {
  console.error('usage: node jsonrpc2-client.mjs ws://HOST:PORT/');
  process.exit(2);
}

const checks = new Checks();
const wire = new Wire();
const ws = new WebSocket(url);
await new Promise((resolve, reject) => {
  ws.once('open', resolve);
  ws.once('error', reject);
});

const send = (payload) => {
  wire.sent.push(payload);
  ws.send(JSON.stringify(payload));
};
const peer = new JSONRPCServerAndClient(
  // The expected error of client_fail is not worth a warning on stderr.
  new JSONRPCServer({ errorListener: () => {} }),
  new JSONRPCClient((payload) => {
    send(payload);
  }),
);
const clientNotes = [];
const ticks = [];
peer.addMethod('client_add', ([a, b]) => a + b);
peer.addMethod('client_fail', () => {
  throw new JSONRPCErrorException('the client says no', 43, ['client', 43]);
});
peer.addMethod('client_note', (params) => {
  clientNotes.push(params);
});
peer.addMethod('tick', (params) => {
  ticks.push(params);
});
ws.on('message', (data, isBinary) => {
  const text = data.toString();
  let payload;
  try {
    payload = JSON.parse(text);
  } catch {
    wire.received.push({ unparsable: text });
    return;
  }
  wire.received.push(payload);
  if (isBinary) return;
  peer.receiveAndSend(payload).catch(() => {});
});
ws.on('close', () => peer.rejectAllPendingRequests('the connection closed'));

/** The error a request is rejected with. */
async function errorOf(method, params) {
  try {
    const result = await peer.request(method, params);
    throw new Error(`a result (${JSON.stringify(result)}) where an error was expected`);
  } catch (error) {
    if (error instanceof JSONRPCErrorException) return error;
    throw error;
  }
}

/** Sends a raw text frame and gives the frames that came in within `ms` after it. */
async function rawExchange(text, ms) {
  const before = wire.received.length;
  wire.sent.push(JSON.parse(text));
  ws.send(text);
  await sleep(ms);
  return wire.received.slice(before);
}

/**
 * What `notes` gives once it holds `count` entries (polled for up to 2 s): sockeye-rpc
 * handles notifications in order among themselves, but a request that follows one may be
 * answered before its handler ran.
 */
async function notesOnce(count) {
  const end = Date.now() + 2000;
  for (;;) {
    const notes = await peer.request('notes', []);
    if (notes.length >= count || Date.now() > end) return notes;
    await sleep(20);
  }
}

await checks.run('subtract by position', async () => same(await peer.request('subtract', [42, 23]), 19));
await checks.run('subtract by name', async () =>
  same(await peer.request('subtract', { subtrahend: 23, minuend: 42 }), 19));
const nested = { text: 'héllo € 中文 𝄞', list: [1, -2.5, true, null, { deep: [] }], big: 9007199254740991 };
await checks.run('echo of a nested value', async () => same(await peer.request('echo', nested), nested));
await checks.run('sum of integers and of floats', async () => {
  same(await peer.request('sum', [1, 2, 4]), 7);
  same(await peer.request('sum', [1, 2, 3.5]), 6.5);
});
await checks.run('application error with data', async () =>
  sameError(await errorOf('fail', []), { code: 42, message: 'no luck', data: { why: 'asked to' } }));
await checks.run('unknown method is -32601', async () =>
  sameError(await errorOf('no_such_method', []), { code: -32601 }));
await checks.run('wrong params are -32602', async () =>
  sameError(await errorOf('subtract', ['a']), { code: -32602 }));
await checks.run('notifications handled in order, not answered', async () => {
  peer.notify('note', ['first']);
  peer.notify('note', { n: 2 });
  same(await notesOnce(2), [['first'], { n: 2 }]);
});
await checks.run('ids of other types echoed exactly', async () => {
  for (const id of ['x-1', 0, -7, 'ünï']) {
    const response = await peer.requestAdvanced({ jsonrpc: '2.0', id, method: 'subtract', params: [3, 1] });
    same(response, { jsonrpc: '2.0', id, result: 2 }, `response to id ${JSON.stringify(id)}`);
  }
});
await checks.run('batch: results matched by id, notification unanswered', async () => {
  const responses = await peer.requestAdvanced([
    { jsonrpc: '2.0', id: 101, method: 'subtract', params: [42, 23] },
    { jsonrpc: '2.0', method: 'note', params: ['in a batch'] },
    { jsonrpc: '2.0', id: 'b', method: 'echo', params: { a: [1, 2] } },
    { jsonrpc: '2.0', id: 103, method: 'no_such_method', params: [] },
  ]);
  if (!Array.isArray(responses) || responses.length !== 3) {
    throw new Error(`want 3 responses, got ${JSON.stringify(responses)}`);
  }
  const byId = new Map(responses.map((r) => [r.id, r]));
  same(byId.get(101), { jsonrpc: '2.0', id: 101, result: 19 });
  same(byId.get('b'), { jsonrpc: '2.0', id: 'b', result: { a: [1, 2] } });
  sameError(byId.get(103)?.error, { code: -32601 });
  same(await notesOnce(3), [['first'], { n: 2 }, ['in a batch']]);
});
await checks.run('batch of notifications only: nothing sent back', async () => {
  const came = await rawExchange(
    JSON.stringify([
      { jsonrpc: '2.0', method: 'note', params: ['n1'] },
      { jsonrpc: '2.0', method: 'note', params: ['n2'] },
    ]),
    300,
  );
  same(came, [], 'frames after the batch');
  same((await notesOnce(5)).slice(-2), [['n1'], ['n2']]);
});
await checks.run('server calls the client back', async () =>
  same(await peer.request('ask_client', { method: 'client_add', params: [2, 3] }), 5));
await checks.run("the client's error reaches the server", async () =>
  sameError(await errorOf('ask_client', { method: 'client_fail' }), {
    code: 43,
    message: 'the client says no',
    data: ['client', 43],
  }));
await checks.run('server notifies the client', async () => {
  same(await peer.request('notify_client', { method: 'client_note', params: ['hi', 1] }), true);
  same(await eventually(() => clientNotes[0], 5000, 'client_note'), ['hi', 1]);
});
await checks.run('batch with a server-to-client call inside', async () => {
  const responses = await peer.requestAdvanced([
    { jsonrpc: '2.0', id: 201, method: 'ask_client', params: { method: 'client_add', params: [20, 22] } },
    { jsonrpc: '2.0', id: 202, method: 'subtract', params: [5, 8] },
  ]);
  const byId = new Map(responses.map((r) => [r.id, r]));
  same(byId.get(201), { jsonrpc: '2.0', id: 201, result: 42 });
  same(byId.get(202), { jsonrpc: '2.0', id: 202, result: -3 });
});
await checks.run('subscription: items as notifications, then unsubscribed', async () => {
  const id = await peer.request('subscribe_ticks', [3]);
  await eventually(() => (ticks.length >= 3 ? true : undefined), 5000, 'three ticks');
  same(ticks, [0, 1, 2].map((result) => ({ subscription: id, result })));
  same(await peer.request('unsubscribe_ticks', [id]), true);
  same(await peer.request('unsubscribe_ticks', [id]), false);
  sameError(await errorOf('subscribe_ticks', [0]), { code: -32602 });
});
// The specification's section 7 examples that no library here sends, on a WebSocket of
// their own: sent as raw text, answers compared as parsed JSON (batch answers by id).
await checks.run("the specification's invalid-message examples, raw", async () => {
  const raw = new WebSocket(url);
  await new Promise((resolve, reject) => {
    raw.once('open', resolve);
    raw.once('error', reject);
  });
  const answers = [];
  raw.on('message', (data) => answers.push(JSON.parse(data.toString())));
  const exchange = async (text, count) => {
    answers.length = 0;
    raw.send(text);
    if (count === 0) {
      await sleep(300);
    } else {
      await eventually(() => (answers.length >= count ? true : undefined), 5000, text);
    }
    return answers.slice();
  };
  try {
    const [parse] = await exchange('{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]', 1);
    same(parse.id, null, 'parse error id');
    same(parse.error.code, -32700, 'parse error code');
    const [bad] = await exchange('{"jsonrpc": "2.0", "method": 1, "params": "bar"}', 1);
    same([bad.id, bad.error.code], [null, -32600], 'invalid request');
    const [empty] = await exchange('[]', 1);
    if (Array.isArray(empty)) throw new Error(`[] answered with an array: ${JSON.stringify(empty)}`);
    same([empty.id, empty.error.code], [null, -32600], '[]');
    const [ones] = await exchange('[1,2,3]', 1);
    same(ones.map((r) => [r.id, r.error.code]), [[null, -32600], [null, -32600], [null, -32600]], '[1,2,3]');
    same(await exchange('[{"jsonrpc": "2.0", "method": "note", "params": [7]}]', 0), [], 'notifications only');
    const [mixed] = await exchange(
      '[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},' +
        '{"jsonrpc": "2.0", "method": "note", "params": [7]},' +
        '{"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},' +
        '{"foo": "boo"},' +
        '{"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},' +
        '{"jsonrpc": "2.0", "method": "echo", "params": {"a": 1}, "id": "9"}]',
      1,
    );
    const byId = new Map(mixed.filter((r) => r.id !== null).map((r) => [r.id, r]));
    same(mixed.length, 5, 'answers to the mixed batch');
    same(byId.get('1'), { jsonrpc: '2.0', result: 7, id: '1' });
    same(byId.get('2'), { jsonrpc: '2.0', result: 19, id: '2' });
    same(byId.get('5')?.error?.code, -32601, 'foo.get');
    same(byId.get('9'), { jsonrpc: '2.0', result: { a: 1 }, id: '9' });
    const nulls = mixed.filter((r) => r.id === null);
    same(nulls.map((r) => r.error.code), [-32600], 'the {"foo": "boo"} member');
  } finally {
    raw.close(1000);
  }
});
await checks.run('every response answers one request of ours, once', async () => {
  await sleep(100);
  const answered = wire.checkResponses();
  for (const [key, count] of answered) {
    if (count !== 1) throw new Error(`request ${key} answered ${count} times`);
  }
  const stray = wire.received.filter((frame) => frame.unparsable !== undefined);
  same(stray, [], 'unparsable frames');
});

ws.close(1000);
process.exit(checks.finish('json-rpc-2.0 client'));
