// What the JSON-RPC interop clients and servers share: running named checks
// with a time limit and printing `ok NAME` or `FAILED NAME: WHY`, deep
// equality of JSON values, and a record of the raw frames a WebSocket
// carried, to check ids and unanswered notifications on the wire.

import { isDeepStrictEqual } from 'node:util';

/** How long one check may take. */
export const CHECK_TIMEOUT_MS = 10000;

export class Checks {
  constructor() {
    this.passed = 0;
    this.failed = 0;
  }

  /** Runs `body` (async) as the check `name`; it fails when it throws or takes too long. */
  async run(name, body) {
    let timer;
    const limit = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no outcome within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
    });
    try {
      await Promise.race([body(), limit]);
      this.passed += 1;
      console.log(`ok ${name}`);
    } catch (error) {
      this.failed += 1;
      console.log(`FAILED ${name}: ${error && error.message ? error.message : error}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Prints the tally and gives the exit status: 0 only when every check passed. */
  finish(label) {
    console.log(`${label}: ${this.passed} passed, ${this.failed} failed`);
    return this.failed === 0 && this.passed > 0 ? 0 : 1;
  }
}

/** Throws unless `got` and `want` are the same JSON value. */
export function same(got, want, what = 'value') {
  if (!isDeepStrictEqual(got, want)) {
    throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}

/** Throws unless `error` carries `code` (and `message` and `data`, when given). */
export function sameError(error, { code, message, data }) {
  if (error === undefined || error === null) throw new Error('no error where one was expected');
  if (error.code !== code) throw new Error(`error code ${error.code} (${error.message}), want ${code}`);
  if (message !== undefined && error.message !== message) {
    throw new Error(`error message ${JSON.stringify(error.message)}, want ${JSON.stringify(message)}`);
  }
  if (data !== undefined) same(error.data, data, 'error data');
}

/** Resolves after `ms`. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Resolves with the first value `poll()` gives that is not undefined, checking every 10 ms;
 * rejects after `ms`.
 */
export async function eventually(poll, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const value = poll();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`${what}: nothing within ${ms} ms`);
    await sleep(10);
  }
}

/**
 * The frames one WebSocket sent and received, parsed, for wire checks: every response to
 * one of our requests echoes its id exactly once, and nothing answers a notification.
 */
export class Wire {
  constructor() {
    this.sent = [];
    this.received = [];
  }

  /** Our request ids, from what we sent (batch members included). */
  requestIds() {
    const ids = [];
    for (const frame of this.sent) {
      for (const m of Array.isArray(frame) ? frame : [frame]) {
        if (m && typeof m === 'object' && 'method' in m && 'id' in m) ids.push(m.id);
      }
    }
    return ids;
  }

  /** The responses that came in (batch members included). */
  responses() {
    const out = [];
    for (const frame of this.received) {
      for (const m of Array.isArray(frame) ? frame : [frame]) {
        if (m && typeof m === 'object' && !('method' in m)) out.push(m);
      }
    }
    return out;
  }

  /**
   * Throws unless every response answers one of our requests (by an id we used, of the same
   * type) and no request was answered twice; gives each request id (as JSON) with the number
   * of answers it got.
   */
  checkResponses() {
    const ours = new Map(this.requestIds().map((id) => [JSON.stringify(id), 0]));
    for (const response of this.responses()) {
      const key = JSON.stringify(response.id);
      if (!ours.has(key)) throw new Error(`a response for an id never sent: ${JSON.stringify(response)}`);
      ours.set(key, ours.get(key) + 1);
    }
    for (const [key, count] of ours) {
      if (count > 1) throw new Error(`request ${key} answered ${count} times`);
    }
    return ours;
  }
}
