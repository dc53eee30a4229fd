// socket.io-client's browser bundles in Chromium (Debian's, driven by playwright-core)
// against sockeye-io's Socket.IO interop server: the page-level checks of checks.js with
// the default bundle and then, on a page whose every WebSocket fails to connect, a forced
// fallback to long-polling; with --msgpack (against a server started with --msgpack), the
// page-level checks with the msgpack bundle instead; with --recovery (against a server
// started with --recovery), the connection state recovery checks.
//
//   node browser/test.mjs --server URL [--msgpack | --recovery] [--chromium PATH]
//
// The pages come from a loopback HTTP server of this script on its own port, so each
// request to the Socket.IO server is cross-origin. Prints `ok NAME` or `FAILED NAME: WHY`
// per check and a summary line; exits 1 if any check failed.

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values: opts } = parseArgs({
  options: {
    server: { type: 'string' },
    msgpack: { type: 'boolean', default: false },
    recovery: { type: 'boolean', default: false },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});
if (!opts.server) {
  console.error('usage: node browser/test.mjs --server URL [--msgpack | --recovery] [--chromium PATH]');
  process.exit(2);
}

// Flags from shared/notes: without the background-networking ones Chromium stalls on the
// closed network.
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
// A check's own limit is 8 s inside the page; this one catches a page that stopped
// answering altogether.
const CHECK_LIMIT_MS = 12000;
// All checks of one run together stay within this budget (under scripts/socketio-interop's
// 120 s limit), so that a run where every check hangs still ends with a summary.
const BUDGET_MS = 90000;
const budgetEnds = Date.now() + BUDGET_MS;
// What the page server hands out, by path: the two browser bundles socket.io-client ships
// and the checks.
const CLIENT_DIST = new URL('../node_modules/socket.io-client/dist/', import.meta.url);
const FILES = {
  '/socket.io.min.js': new URL('socket.io.min.js', CLIENT_DIST),
  '/socket.io.msgpack.min.js': new URL('socket.io.msgpack.min.js', CLIENT_DIST),
  '/checks.js': new URL('checks.js', import.meta.url),
};

// The test page: `?bundle=NAME` picks the client bundle, `?server=URL` the server.
function pageHtml(bundle) {
  return `<!doctype html><meta charset="utf-8"><title>sockeye-io in Chromium</title>
<script src="/${bundle}"></script><script src="/checks.js"></script>`;
}

function servePages() {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://page');
    try {
      if (url.pathname === '/') {
        const bundle = url.searchParams.get('bundle') ?? 'socket.io.min.js';
        if (!FILES[`/${bundle}`]) throw new Error(`unknown bundle ${bundle}`);
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(pageHtml(bundle));
        return;
      }
      const file = FILES[url.pathname];
      if (!file) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
      res.end(await readFile(file));
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
    }
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

let passed = 0;
let failed = 0;
function report(name, error) {
  if (error) {
    failed += 1;
    console.log(`FAILED ${name}: ${error}`);
  } else {
    passed += 1;
    console.log(`ok ${name}`);
  }
}

// Opens the test page in a fresh context (prepared by `prepare`) and runs the named list
// of checks (`CHECKS` or `FALLBACK_CHECKS`) one by one; `after` may add a failure to each.
async function runPage(browser, { label, pageUrl, list, prepare = async () => {}, after = () => null }) {
  const context = await browser.newContext();
  const errors = [];
  try {
    await prepare(context);
    const page = await context.newPage();
    page.on('pageerror', (error) => errors.push(String(error)));
    await page.goto(pageUrl);
    const names = await page.evaluate((listName) => window[listName], list);
    if (!Array.isArray(names) || names.length === 0) {
      report(`chromium: ${label}: the page`, `no checks loaded (${errors.join('; ') || 'no page error'})`);
      return;
    }
    for (const name of names) {
      let error = null;
      if (Date.now() > budgetEnds) {
        report(`chromium: ${name} (${label})`, `not run: the run's ${BUDGET_MS / 1000} s budget is spent`);
        continue;
      }
      try {
        const outcome = await withTimeout(page.evaluate((n) => window.runCheck(n), name), CHECK_LIMIT_MS, name);
        error = outcome.ok ? after(name) : outcome.error;
      } catch (e) {
        error = e.message;
      }
      report(`chromium: ${name} (${label})`, error);
    }
    if (errors.length) report(`chromium: ${label}: no uncaught page errors`, errors.join('; '));
  } finally {
    await context.close();
  }
}

// The forced fallback: an init script makes every WebSocket the page opens connect to the
// page server instead, which drops each upgrade request unanswered, so the browser reports
// a failed connection (error, then close 1006) as it would behind a proxy that blocks
// WebSockets. Each check must have tried at least one.
async function runFallback(browser, pageUrl, pageServer) {
  let blocked = 0;
  let seenBefore = 0;
  pageServer.on('upgrade', (_req, socket) => {
    blocked += 1;
    socket.destroy();
  });
  const blockedUrl = new URL('/blocked', pageUrl).href.replace(/^http/, 'ws');
  await runPage(browser, {
    label: 'WebSocket blocked',
    pageUrl,
    list: 'FALLBACK_CHECKS',
    prepare: (context) =>
      context.addInitScript((target) => {
        const Native = window.WebSocket;
        window.WebSocket = class extends Native {
          constructor(_url, protocols) {
            super(target, protocols);
          }
        };
      }, blockedUrl),
    after: () => {
      const tried = blocked - seenBefore;
      seenBefore = blocked;
      return tried > 0 ? null : 'the client never tried a WebSocket, so nothing fell back';
    },
  });
}

const pages = await servePages();
const origin = `http://127.0.0.1:${pages.address().port}/`;
const page = (server, bundle) => `${origin}?bundle=${bundle}&server=${encodeURIComponent(server)}`
  + (bundle.includes('msgpack') ? '&parser=msgpack' : '');
let browser;
try {
  browser = await chromium.launch({ executablePath: opts.chromium, args: FLAGS });
  if (opts.recovery) {
    await runPage(browser, { label: 'recovery', pageUrl: page(opts.server, 'socket.io.min.js'), list: 'RECOVERY_CHECKS' });
  } else if (opts.msgpack) {
    await runPage(browser, { label: 'msgpack parser', pageUrl: page(opts.server, 'socket.io.msgpack.min.js'), list: 'CHECKS' });
  } else {
    await runPage(browser, { label: 'default parser', pageUrl: page(opts.server, 'socket.io.min.js'), list: 'CHECKS' });
    await runFallback(browser, page(opts.server, 'socket.io.min.js'), pages);
  }
} catch (error) {
  report('chromium: the run', error.message);
} finally {
  await browser?.close();
  pages.close();
}
console.log(`chromium: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
