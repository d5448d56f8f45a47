#!/usr/bin/env node
// The peer side of `medulla bench fhirpath --peer`: the reference JavaScript FHIRPath engine
// (fhirpath.js, pinned in package.json) with its R4 model, run on the same work as Medulla.
//
//   node run.js --dir DIR --rounds R
//
// Reads, from DIR (written by `medulla bench fhirpath`):
//   resources.ndjson   one FHIR resource per line
//   expressions.json   array of FHIRPath expression texts
//   pairs.json         array of [resourceIndex, expressionIndex], in evaluation order
// Compiles every expression once, evaluates every pair once untimed (warm-up; its results are
// written to DIR/results-js.ndjson, one JSON line per pair: the result array, or
// {"error": message}), then evaluates every pair R more times, timed. Prints one JSON line:
// {"engine", "version", "pairs", "rounds", "evaluations", "seconds", "rate", ...}.

'use strict';

const fs = require('fs');
const path = require('path');
const fhirpath = require('fhirpath');
const r4 = require('fhirpath/fhir-context/r4');
const { ResourceNode } = require('fhirpath/src/types.js');

function argument(name, fallback) {
  const at = process.argv.indexOf(name);
  return at >= 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

const dir = argument('--dir');
const rounds = Number(argument('--rounds', '3'));
if (!dir || !Number.isInteger(rounds) || rounds < 1) {
  console.error('usage: node run.js --dir DIR [--rounds R]');
  process.exit(2);
}

// fhirpath.js's own resolve() is asynchronous only (it fetches over HTTP) and throws when the
// `async` option is off. The R4 search parameters call it (`subject.where(resolve() is
// Patient)`), so the peer gets a synchronous resolve() with Medulla's no-store behaviour:
// `#id` finds a contained resource of the root resource, a Bundle root's entries are matched by
// fullUrl or Type/id, anything else resolves to nothing.
function rootResource(ctx) {
  const root = ctx.dataRoot && ctx.dataRoot[0];
  return root instanceof ResourceNode ? root.data : root;
}

function resolveSync(coll) {
  const ctx = this;
  const root = rootResource(ctx);
  const out = [];
  for (const item of coll || []) {
    const data = item instanceof ResourceNode ? item.data : item;
    const value = data && typeof data === 'object' ? data.reference : data;
    const reference = value && typeof value === 'object' && 'valueOf' in value ? value.valueOf() : value;
    if (typeof reference !== 'string' || !root) continue;
    let found = null;
    if (reference.startsWith('#')) {
      const id = reference.slice(1);
      found = (root.contained || []).find((r) => r && r.id === id) || null;
    } else if (Array.isArray(root.entry)) {
      for (const entry of root.entry) {
        const resource = entry && entry.resource;
        if (!resource) continue;
        const typed = resource.resourceType && resource.id
          ? reference === `${resource.resourceType}/${resource.id}` ||
            reference.endsWith(`/${resource.resourceType}/${resource.id}`)
          : false;
        if (entry.fullUrl === reference || typed) {
          found = resource;
          break;
        }
      }
    }
    if (found) out.push(ResourceNode.makeResNode(ctx, found, null, null, null, null));
  }
  return out;
}

const options = {
  userInvocationTable: { resolve: { fn: resolveSync, internalStructures: true } },
};

const resources = fs
  .readFileSync(path.join(dir, 'resources.ndjson'), 'utf8')
  .split('\n')
  .filter((line) => line.length > 0)
  .map((line) => JSON.parse(line));
const expressions = JSON.parse(fs.readFileSync(path.join(dir, 'expressions.json'), 'utf8'));
const pairs = JSON.parse(fs.readFileSync(path.join(dir, 'pairs.json'), 'utf8'));

const compileStarted = process.hrtime.bigint();
const compiled = expressions.map((text) => {
  try {
    return { fn: fhirpath.compile(text, r4, options) };
  } catch (error) {
    return { error: `compile: ${error.message}` };
  }
});
const compileSeconds = Number(process.hrtime.bigint() - compileStarted) / 1e9;

function evaluate(pair) {
  const entry = compiled[pair[1]];
  if (entry.error) throw new Error(entry.error);
  return entry.fn(resources[pair[0]]);
}

// Warm-up round, recording results.
const out = fs.openSync(path.join(dir, 'results-js.ndjson'), 'w');
let buffer = [];
let errors = 0;
for (const pair of pairs) {
  let line;
  try {
    line = JSON.stringify(evaluate(pair));
  } catch (error) {
    errors += 1;
    line = JSON.stringify({ error: String(error && error.message ? error.message : error) });
  }
  buffer.push(line);
  if (buffer.length >= 4096) {
    fs.writeSync(out, buffer.join('\n') + '\n');
    buffer = [];
  }
}
if (buffer.length > 0) fs.writeSync(out, buffer.join('\n') + '\n');
fs.closeSync(out);

// Timed rounds.
let items = 0;
const started = process.hrtime.bigint();
for (let round = 0; round < rounds; round += 1) {
  for (const pair of pairs) {
    try {
      items += evaluate(pair).length;
    } catch (error) {
      items += 0;
    }
  }
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const evaluations = pairs.length * rounds;

console.log(
  JSON.stringify({
    engine: 'fhirpath.js',
    version: require('fhirpath/package.json').version,
    node: process.version,
    expressions: expressions.length,
    compile_errors: compiled.filter((entry) => entry.error).length,
    compile_seconds: compileSeconds,
    pairs: pairs.length,
    errors,
    rounds,
    evaluations,
    items,
    seconds,
    rate: evaluations / seconds,
  }),
);
