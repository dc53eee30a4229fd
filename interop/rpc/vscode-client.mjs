// vscode-jsonrpc's MessageConnection over `ws` (wire-adapter.mjs), as a client of
// `interop-peer serve` (sockeye-rpc): calls by position and by name, errors, notifications
// in order, a subscription, the server calling this client back (a request vscode-jsonrpc
// answers, an error it answers, a notification), and cancellation: a call cancelled with
// vscode-jsonrpc's token sends `$/cancelRequest`, which sockeye-rpc's default
// `Config::cancel_notification` takes, answering the call with -32800. vscode-jsonrpc has no
// batches. Every frame is recorded and checked at the end: each response answers one of our
// requests exactly once, nothing else comes.
//
//   node vscode-client.mjs ws://127.0.0.1:PORT/
//
// Prints one line per check, `ok NAME` or `FAILED NAME: WHY`; exits with 0 only when every
// check passed.

import rpc from 'vscode-jsonrpc';
import { WebSocket } from 'ws';

import { Checks, Wire, eventually, same, sameError, sleep } from './checks.mjs';
import { vscodeConnection } from './wire-adapter.mjs';

const url = process.argv[2];
if (!url) {
  console.error('usage: node vscode-client.mjs ws://HOST:PORT/');
  process.exit(2);
}

const checks = new Checks();
const wire = new Wire();
const ws = new WebSocket(url);
await new Promise((resolve, reject) => {
  ws.once('open', resolve);
  ws.once('error', reject);
});
const connection = vscodeConnection(ws, wire);
const clientNotes = [];
const ticks = [];
// Positional params arrive spread, named ones as one object.
connection.onRequest('client_add', (a, b) => a + b);
connection.onRequest('client_fail', () => {
  throw new rpc.ResponseError(43, 'the client says no', ['client', 43]);
});
connection.onNotification('client_note', (...params) => clientNotes.push(params));
connection.onNotification('tick', (params) => ticks.push(params));
connection.listen();

/** The ResponseError a request is rejected with. */
async function errorOf(method, ...params) {
  try {
    const result = await connection.sendRequest(method, ...params);
    throw new Error(`a result (${JSON.stringify(result)}) where an error was expected`);
  } catch (error) {
    if (error instanceof rpc.ResponseError) return error;
    throw error;
  }
}

/**
 * What `notes` gives once it holds `count` entries (polled for up to 2 s): sockeye-rpc
 * handles notifications in order among themselves, but a request that follows one may be
 * answered before its handler ran.
 */
async function notesOnce(count) {
  const end = Date.now() + 2000;
  for (;;) {
    const notes = await connection.sendRequest('notes');
    if (notes.length >= count || Date.now() > end) return notes;
    await sleep(20);
  }
}

await checks.run('subtract by position', async () => same(await connection.sendRequest('subtract', 42, 23), 19));
await checks.run('subtract by name', async () =>
  same(await connection.sendRequest('subtract', { subtrahend: 23, minuend: 42 }), 19));
const nested = { text: 'héllo € 中文 𝄞', list: [1, -2.5, true, null, { deep: [] }], big: 9007199254740991 };
await checks.run('echo of a nested value', async () => same(await connection.sendRequest('echo', nested), nested));
// Arguments go out as positional params: [1, 2, 4].
await checks.run('sum of a list', async () => same(await connection.sendRequest('sum', 1, 2, 4), 7));
await checks.run('application error with data', async () =>
  sameError(await errorOf('fail'), { code: 42, message: 'no luck', data: { why: 'asked to' } }));
await checks.run('unknown method is -32601', async () => sameError(await errorOf('no_such_method'), { code: -32601 }));
await checks.run('wrong params are -32602', async () => sameError(await errorOf('subtract', 'a', 'b'), { code: -32602 }));
await checks.run('notifications handled in order, not answered', async () => {
  await connection.sendNotification('note', 'first');
  await connection.sendNotification('note', { n: 2 });
  same(await notesOnce(2), [['first'], { n: 2 }]);
});
await checks.run('server calls the client back', async () =>
  same(await connection.sendRequest('ask_client', { method: 'client_add', params: [2, 3] }), 5));
await checks.run("the client's error reaches the server", async () =>
  sameError(await errorOf('ask_client', { method: 'client_fail' }), {
    code: 43,
    message: 'the client says no',
    data: ['client', 43],
  }));
await checks.run('server notifies the client', async () => {
  same(await connection.sendRequest('notify_client', { method: 'client_note', params: ['hi', 1] }), true);
  same(await eventually(() => clientNotes[0], 5000, 'client_note'), ['hi', 1]);
});
await checks.run('subscription: items as notifications, then unsubscribed', async () => {
  const id = await connection.sendRequest('subscribe_ticks', 3);
  await eventually(() => (ticks.length >= 3 ? true : undefined), 5000, 'three ticks');
  same(ticks, [0, 1, 2].map((result) => ({ subscription: id, result })));
  same(await connection.sendRequest('unsubscribe_ticks', id), true);
  same(await connection.sendRequest('unsubscribe_ticks', id), false);
});
await checks.run('a cancelled call is answered with -32800', async () => {
  const source = new rpc.CancellationTokenSource();
  const call = connection.sendRequest('sleep', 3000, source.token);
  await sleep(100);
  source.cancel();
  const started = Date.now();
  let error;
  try {
    await call;
  } catch (e) {
    error = e;
  }
  sameError(error, { code: -32800 });
  const sent = wire.sent.filter((m) => m.method === '$/cancelRequest');
  if (sent.length !== 1) throw new Error(`${sent.length} $/cancelRequest sent`);
  if (Date.now() - started > 2000) throw new Error('the answer waited for the handler to end');
});
await checks.run('every response answers one request of ours, once', async () => {
  await sleep(100);
  const answered = wire.checkResponses();
  for (const [key, count] of answered) {
    if (count !== 1) throw new Error(`request ${key} answered ${count} times`);
  }
  same(wire.received.filter((frame) => frame.unparsable !== undefined), [], 'unparsable frames');
});

connection.dispose();
ws.close(1000);
process.exit(checks.finish('vscode-jsonrpc client'));
