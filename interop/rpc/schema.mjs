// Checks the frames sockeye-rpc sent (interop-peer's --dump files: one JSON text a line)
// against the JSON-RPC 2.0 JSON Schema of @json-rpc-specification/meta-schema, the schema
// picked per frame: an array is a batch (of requests when its members have `method`, else of
// responses), an object with `method` a request or notification, any other object a
// response. On top, the specification's rules the schema leaves out: a response has exactly
// one of `result` and `error`; an error's `code` is an integer and its `message` a string; a
// request carries neither; a batch is not empty, and does not mix requests and responses.
//
//   node schema.mjs FILE[:KIND,KIND...]...
//
// KINDs each of which the file must hold at least one of (so that the check cannot pass on
// what was not sent): request, notification, response, error, batch-request,
// batch-response. Prints one line per file, `ok NAME` or `FAILED NAME: WHY`, and a summary;
// exits with 0 only when every frame of every file is valid.

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

import Ajv from 'ajv';
import { jsonrpcTypes } from '@json-rpc-specification/meta-schema';

import { Checks } from './checks.mjs';

// The schema names its own meta-schema (https://meta.json-schema.tools), which Ajv does not
// know; it is written in draft-07's keywords, which Ajv checks by default.
const { $schema, ...schema } = jsonrpcTypes;
const ajv = new Ajv({ allErrors: true, allowUnionTypes: true });
ajv.addSchema(schema);
const validator = (name) => {
  const validate = ajv.getSchema(`${schema.$id}#/definitions/${name}`);
  if (!validate) throw new Error(`the schema has no ${name}`);
  return validate;
};
const validators = {
  request: validator('JSONRPCRequest'),
  response: validator('JSONRPCResponse'),
  'batch-request': validator('JSONRPCBatchRequest'),
  'batch-response': validator('JSONRPCBatchResponse'),
};

const has = (object, key) => Object.prototype.hasOwnProperty.call(object, key);
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Why one request or response breaks a rule the schema leaves out, or null. */
function ruleBreach(message, asResponse) {
  if (!isObject(message)) return 'not an object';
  if (!asResponse) {
    if (has(message, 'result') || has(message, 'error')) return 'a request with result or error';
    return null;
  }
  if (has(message, 'result') === has(message, 'error')) return 'a response needs exactly one of result and error';
  if (has(message, 'error')) {
    const { error } = message;
    if (!isObject(error)) return 'error is not an object';
    if (!Number.isInteger(error.code)) return 'error.code is not an integer';
    if (typeof error.message !== 'string') return 'error.message is not a string';
  }
  return null;
}

/** The kind of a frame and why it is invalid (null when it is valid). */
function classify(frame) {
  if (Array.isArray(frame)) {
    const requests = frame.filter((m) => isObject(m) && has(m, 'method')).length;
    const kind = requests > 0 ? 'batch-request' : 'batch-response';
    if (frame.length === 0) return { kind, why: 'an empty batch' };
    if (requests > 0 && requests < frame.length) return { kind, why: 'a batch mixing requests and responses' };
    if (!validators[kind](frame)) return { kind, why: ajv.errorsText(validators[kind].errors) };
    for (const member of frame) {
      const why = ruleBreach(member, kind === 'batch-response');
      if (why) return { kind, why: `member ${JSON.stringify(member)}: ${why}` };
    }
    return { kind, why: null };
  }
  const isRequest = isObject(frame) && has(frame, 'method');
  const kind = isRequest ? (has(frame, 'id') ? 'request' : 'notification') : has(frame, 'error') ? 'error' : 'response';
  const validate = validators[isRequest ? 'request' : 'response'];
  if (!validate(frame)) return { kind, why: ajv.errorsText(validate.errors) };
  return { kind, why: ruleBreach(frame, !isRequest) };
}

const args = process.argv.slice(2);
if (args.length === 0) {
  console.error('usage: node schema.mjs FILE[:KIND,KIND...]...');
  process.exit(2);
}
const checks = new Checks();
for (const arg of args) {
  const [file, kinds = ''] = arg.split(':');
  await checks.run(`frames of ${basename(file)} valid under the JSON-RPC schema`, async () => {
    const lines = readFileSync(file, 'utf8').split('\n').filter((line) => line !== '');
    const counts = {};
    const invalid = [];
    for (const line of lines) {
      let frame;
      try {
        frame = JSON.parse(line);
      } catch {
        invalid.push(`not JSON: ${line.slice(0, 200)}`);
        continue;
      }
      const { kind, why } = classify(frame);
      counts[kind] = (counts[kind] ?? 0) + 1;
      if (why) invalid.push(`${why}: ${line.slice(0, 200)}`);
    }
    if (invalid.length > 0) {
      throw new Error(`${invalid.length} of ${lines.length} invalid; first: ${invalid.slice(0, 3).join(' | ')}`);
    }
    const missing = kinds.split(',').filter((kind) => kind !== '' && !counts[kind]);
    if (missing.length > 0) throw new Error(`no ${missing.join(', ')} among ${JSON.stringify(counts)}`);
    console.log(`  ${lines.length} frames: ${JSON.stringify(counts)}`);
  });
}
process.exit(checks.finish('schema'));
