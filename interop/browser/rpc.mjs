// Chromium against the `axum-server` example of sockeye-rpc: its page, loaded in a headless
// Chromium, calls the server over the browser's own WebSocket and answers the server's calls
// with the JSON-RPC 2.0 peer written in the page. Each page reports `window.rpcResults` and
// sets its title to `done` (or `failed: REASON`); every result is checked here exactly, one
// line per check, then `rpc-browser: N passed, M failed`. Exits 1 when any check fails.
//
//   node rpc.mjs --server ADDR [--chromium PATH]

import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values: opts } = parseArgs({
  options: {
    server: { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});
if (!opts.server) {
  console.error('usage: node rpc.mjs --server ADDR [--chromium PATH]');
  process.exit(2);
}
const BASE = `http://${opts.server}/`;

// As test.mjs: without the background-networking flags Chromium stalls on a closed network.
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// How long one page may take to report: it makes about fifteen calls on loopback, and the
// server's later call waits 100 ms.
const PAGE_TIMEOUT_MS = 20_000;

const METHOD_NOT_FOUND = { code: -32601, message: 'Method not found' };
const INVALID_PARAMS = { code: -32602, message: 'Invalid params' };

const results = [];

function record(name, ok, detail) {
  results.push({ name, ok });
  console.log(`${ok ? 'ok     ' : 'FAILED '} ${name}${detail ? `\n        ${detail}` : ''}`);
}

// JSON with the keys of every object sorted: equal values give equal texts.
function canonical(value) {
  return JSON.stringify(value, (_, v) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
    : v));
}

function checkEqual(name, actual, expected) {
  const a = canonical(actual);
  const e = canonical(expected);
  record(name, a === e, a === e ? '' : `expected ${e}, got ${a}`);
}

// Loads `url` and waits for the page to set its title to `done` or `failed: ...`; gives the
// title and the page's `rpcResults`.
async function runPage(browser, url) {
  const begun = Date.now();
  const page = await browser.newPage();
  try {
    page.on('pageerror', (error) => console.log(`        page error: ${error.message}`));
    const response = await page.goto(url, { timeout: 5000 });
    if (!response || !response.ok()) {
      throw new Error(`GET ${url}: ${response ? response.status() : 'no response'}`);
    }
    await page.waitForFunction(() => document.title !== 'running', null, { timeout: PAGE_TIMEOUT_MS });
    const got = { title: await page.title(), results: await page.evaluate(() => window.rpcResults ?? null) };
    console.log(`        ${url} reported in ${Date.now() - begun} ms`);
    return got;
  } finally {
    await page.close().catch(() => {});
  }
}

// The checks of one page that ran through, for a visitor named `user`.
function checkResults(prefix, got, user) {
  const r = got.results ?? {};
  checkEqual(`${prefix}: page finished`, got.title, 'done');
  checkEqual(`${prefix}: subtract [42, 23]`, r.subtract, 19);
  checkEqual(`${prefix}: subtract ["a"] is Invalid params`, r.subtractBadParams, INVALID_PARAMS);
  checkEqual(`${prefix}: an unknown method is Method not found`, r.unknownMethod, METHOD_NOT_FOUND);
  checkEqual(`${prefix}: whoami is the user of the query`, r.whoami, user);
  checkEqual(`${prefix}: a batch of subtract, whoami and an unknown method`, r.batch,
    [{ result: -3 }, { result: user }, { error: METHOD_NOT_FOUND }]);
  checkEqual(`${prefix}: subscribe_ticks [5] gives 1..5`, r.ticks, [1, 2, 3, 4, 5]);
  checkEqual(`${prefix}: unsubscribe_ticks answers true`, r.unsubscribed, true);
  checkEqual(`${prefix}: subscribe_ticks over the limit is Invalid params`, r.tooManyTicks, INVALID_PARAMS);
  checkEqual(`${prefix}: ping_page [20, 22] answers with the page's page_add`, r.pingPage, 42);
  checkEqual(`${prefix}: call_me_later answers at once`, r.callMeLater, 'scheduled');
  checkEqual(`${prefix}: later_result is the page's answer to the later page_upper`, r.laterResult, 'SOCKEYE');
  checkEqual(`${prefix}: the server's calls to the page, the later one after its reply`, r.served,
    ['page_add 20 22', 'page_upper sockeye after the reply']);
}

const started = Date.now();
let browser;
try {
  browser = await chromium.launch({ executablePath: opts.chromium, args: FLAGS, timeout: 30_000 });
  console.log(`        chromium launched in ${Date.now() - started} ms`);

  const named = await runPage(browser, `${BASE}?user=${encodeURIComponent('Ada Lovelace')}`);
  checkResults('user Ada Lovelace', named, 'Ada Lovelace');

  const anonymous = await runPage(browser, BASE);
  checkEqual('no user: whoami is anonymous', anonymous.results?.whoami, 'anonymous');
  checkEqual('no user: page finished', anonymous.title, 'done');

  // The server refuses the upgrade (400) for an empty name: the page's socket never opens.
  const refused = await runPage(browser, `${BASE}?user=`);
  checkEqual('empty user: the socket is refused', refused.title, 'failed: could not open '
    + `ws://${opts.server}/rpc?user=: 1006`);
} catch (error) {
  record('harness', false, String(error.message ?? error).replace(/\s+/g, ' ').slice(0, 400));
} finally {
  await browser?.close().catch(() => {});
}
const failed = results.filter((r) => !r.ok).length;
console.log(`rpc-browser: ${results.length - failed} passed, ${failed} failed `
  + `(${((Date.now() - started) / 1000).toFixed(1)} s)`);
process.exit(failed ? 1 : 0);
