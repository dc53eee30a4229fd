// A `ws` WebSocket as vscode-jsonrpc's MessageReader and MessageWriter: one JSON-RPC message
// per text frame (no Content-Length headers, which only its stream transports use). Each
// frame read or written is also recorded in a Wire (checks.mjs).

import rpc from 'vscode-jsonrpc';

export class WebSocketReader extends rpc.AbstractMessageReader {
  constructor(ws, wire) {
    super();
    this.callback = null;
    this.early = [];
    ws.on('message', (data) => {
      let message;
      try {
        message = JSON.parse(data.toString());
      } catch (error) {
        wire.received.push({ unparsable: data.toString() });
        this.fireError(error);
        return;
      }
      wire.received.push(message);
      if (this.callback) this.callback(message);
      else this.early.push(message);
    });
    ws.on('error', (error) => this.fireError(error));
    ws.on('close', () => this.fireClose());
  }

  listen(callback) {
    this.callback = callback;
    for (const message of this.early.splice(0)) callback(message);
    return { dispose: () => { this.callback = null; } };
  }
}

export class WebSocketWriter extends rpc.AbstractMessageWriter {
  constructor(ws, wire) {
    super();
    this.ws = ws;
    this.wire = wire;
  }

  async write(message) {
    this.wire.sent.push(message);
    this.ws.send(JSON.stringify(message));
  }

  end() {}
}

/** A vscode-jsonrpc MessageConnection on `ws`, not yet listening. */
export function vscodeConnection(ws, wire) {
  return rpc.createMessageConnection(new WebSocketReader(ws, wire), new WebSocketWriter(ws, wire));
}
