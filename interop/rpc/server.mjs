// A JSON-RPC server of another library on `ws`, for `interop-peer call` (sockeye-rpc's client
// side) to talk to: json-rpc-2.0's JSONRPCServerAndClient (batches taken) or vscode-jsonrpc's
// MessageConnection (no batches). Serves on every connection:
//
//   subtract [a, b] | {minuend, subtrahend}, echo, sum [numbers], sleep [ms], fail (error 42),
//   note (a notification, recorded), notes (what was recorded), ask_client {method, params}
//   (calls the client and gives its answer; an error it answers is answered as it came),
//   notify_client {method, params} (notifies the client), strays (the frames that came in
//   that were neither a request, a notification nor the answer to one of this server's calls:
//   answers to notifications, unknown ids), cancelled (the methods of the requests the client
//   gave up and said so with `$/cancelRequest`, sockeye-rpc's default cancellation
//   notification, which vscode-jsonrpc takes and json-rpc-2.0 ignores).
//
//   node server.mjs json-rpc-2.0|vscode-jsonrpc
//
// Listens on 127.0.0.1 at a port the OS picks and prints `listening on ws://127.0.0.1:PORT/`.

import { JSONRPCClient, JSONRPCErrorException, JSONRPCServer, JSONRPCServerAndClient } from 'json-rpc-2.0';
import rpc from 'vscode-jsonrpc';
import { WebSocketServer } from 'ws';

import { Wire, sleep } from './checks.mjs';
import { vscodeConnection } from './wire-adapter.mjs';

const library = process.argv[2];
if (library !== 'json-rpc-2.0' && library !== 'vscode-jsonrpc') {
  console.error('usage: node server.mjs json-rpc-2.0|vscode-jsonrpc');
  process.exit(2);
}

/** The methods, whatever the library: `call(method, params)` and `notify` reach the client. */
function methods(state, client) {
  return {
    subtract: (p) => (Array.isArray(p) ? p[0] - p[1] : p.minuend - p.subtrahend),
    echo: (p) => (p === undefined ? null : p),
    sum: (p) => p.reduce((a, b) => a + b, 0),
    sleep: async ([ms]) => {
      await sleep(Math.min(ms, 5000));
      return ms;
    },
    fail: () => {
      throw { code: 42, message: 'no luck', data: { why: 'asked to' } };
    },
    notes: () => state.notes,
    ask_client: (p) => client.call(p?.method ?? 'client_add', p?.params ?? [2, 3]),
    notify_client: (p) => {
      client.notify(p?.method ?? 'client_note', p?.params);
      return true;
    },
    strays: () => strays(state.wire),
    cancelled: () => cancelled(state.wire),
  };
}

/** The methods of the client's requests that a `$/cancelRequest` from it named, in order. */
function cancelled(wire) {
  const methods = new Map();
  const names = [];
  for (const m of wire.received) {
    if (!m || typeof m !== 'object' || Array.isArray(m)) continue;
    if ('method' in m && 'id' in m) methods.set(JSON.stringify(m.id), m.method);
    if (m.method === '$/cancelRequest' && !('id' in m)) {
      names.push(methods.get(JSON.stringify(m.params?.id)) ?? `unknown id ${JSON.stringify(m.params?.id)}`);
    }
  }
  return names;
}

/** The frames of `wire.received` that answer nothing this side sent. */
function strays(wire) {
  const ours = new Set(wire.requestIds().map((id) => JSON.stringify(id)));
  return wire.responses().filter((r) => !ours.has(JSON.stringify(r.id)));
}

function serveJsonRpc2(ws) {
  const state = { notes: [], wire: new Wire() };
  const peer = new JSONRPCServerAndClient(
    new JSONRPCServer({ errorListener: () => {} }),
    new JSONRPCClient((payload) => {
      state.wire.sent.push(payload);
      ws.send(JSON.stringify(payload));
    }),
    { errorListener: () => {} },
  );
  const client = {
    call: async (method, params) => {
      try {
        return await peer.request(method, params);
      } catch (error) {
        if (error instanceof JSONRPCErrorException) {
          throw new JSONRPCErrorException(error.message, error.code, error.data);
        }
        throw error;
      }
    },
    notify: (method, params) => peer.notify(method, params),
  };
  for (const [name, f] of Object.entries(methods(state, client))) {
    peer.addMethod(name, async (params) => {
      try {
        return await f(params);
      } catch (error) {
        if (error instanceof JSONRPCErrorException) throw error;
        if (error && typeof error.code === 'number') {
          throw new JSONRPCErrorException(error.message, error.code, error.data);
        }
        throw error;
      }
    });
  }
  peer.addMethod('note', (params) => {
    state.notes.push(params);
  });
  ws.on('message', (data) => {
    let payload;
    try {
      payload = JSON.parse(data.toString());
    } catch {
      state.wire.received.push({ unparsable: data.toString() });
      return;
    }
    state.wire.received.push(payload);
    peer.receiveAndSend(payload).catch(() => {});
  });
  ws.on('close', () => peer.rejectAllPendingRequests('the connection closed'));
}

function serveVscode(ws) {
  const state = { notes: [], wire: new Wire() };
  const connection = vscodeConnection(ws, state.wire);
  // vscode-jsonrpc spreads arguments into positional params, and sends one object argument
  // as named params.
  const args = (params) => (params === undefined ? [] : Array.isArray(params) ? params : [params]);
  const client = {
    call: (method, params) => connection.sendRequest(method, ...args(params)),
    notify: (method, params) => connection.sendNotification(method, ...args(params)),
  };
  const table = methods(state, client);
  connection.onRequest(async (method, params) => {
    const f = table[method];
    if (!f) throw new rpc.ResponseError(rpc.ErrorCodes.MethodNotFound, `Unhandled method ${method}`);
    try {
      return await f(params);
    } catch (error) {
      if (error instanceof rpc.ResponseError) throw error;
      if (error && typeof error.code === 'number') throw new rpc.ResponseError(error.code, error.message, error.data);
      throw error;
    }
  });
  connection.onNotification((method, params) => {
    if (method === 'note') state.notes.push(params);
  });
  connection.listen();
  ws.on('close', () => connection.dispose());
}

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
wss.on('listening', () => console.log(`listening on ws://127.0.0.1:${wss.address().port}/`));
wss.on('connection', (ws) => (library === 'json-rpc-2.0' ? serveJsonRpc2(ws) : serveVscode(ws)));
