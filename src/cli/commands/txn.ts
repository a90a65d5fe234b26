// leasekv txn [FILE|-]: a transaction described in JSON (the client library's TxnRequest).
import { readFileSync } from 'node:fs';
import type { TxnOpResponse, TxnRequest } from '../../client/index.ts';
import { command, makeClient, parse, printJson, UsageError } from './common.ts';

const USAGE = `usage: leasekv txn [FILE | -] [options]

Runs one transaction, read as JSON from FILE or standard input: every comparison in "compare" must
hold for the operations in "success" to run; otherwise those in "failure" run. Atomic, exactly once.
  {"compare": [{"key": "cfg/v", "target": "value", "result": "=", "value": "1"},
               {"key": "lock", "target": "version", "result": "=", "value": 0}],
   "success": [{"op": "put", "key": "cfg/v", "value": "2"}, {"op": "get", "key": "cfg/v"}],
   "failure": [{"op": "range", "prefix": "cfg/", "limit": 10}]}
targets: value, version, createRevision, modRevision (version 0: the key does not exist);
results: =, !=, <, >; ops: put (key, value), delete (key), get (key), range (prefix, limit).
Prints SUCCEEDED or FAILED and each operation's answer; exit code 1 when the comparisons failed.`;

const TOP_LEVEL = new Set(['compare', 'success', 'failure']);

export function parseTxn(text: string): TxnRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`the transaction is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UsageError('the transaction must be a JSON object with compare, success and failure');
  for (const [k, v] of Object.entries(raw)) {
    if (!TOP_LEVEL.has(k)) throw new UsageError(`unknown field '${k}' (expected compare, success, failure)`);
    if (!Array.isArray(v)) throw new UsageError(`'${k}' must be an array`);
    for (const e of v) if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new UsageError(`every element of '${k}' must be an object`);
  }
  return raw as TxnRequest;
}

function describe(r: TxnOpResponse): string {
  switch (r.op) {
    case 'put':
      return 'put OK';
    case 'delete':
      return `delete ${r.deleted ? 1 : 0}`;
    case 'get':
      return r.kv === undefined ? 'get (not found)' : `get ${r.kv.key}\t${r.kv.value}`;
    case 'range':
      return [`range ${r.kvs.length}${r.more ? ' (more)' : ''}`, ...r.kvs.map((kv) => `${kv.key}\t${kv.value}`)].join('\n');
  }
}

export function run(argv: string[]): Promise<number> {
  return command('txn', USAGE, argv, async () => {
    const { common, positionals } = parse(argv, {});
    if (positionals.length > 1) throw new UsageError(`expected at most one FILE, got ${positionals.length}`);
    const file = positionals[0] ?? '-';
    let text: string;
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read ${file === '-' ? 'standard input' : file}: ${(err as Error).message}`);
    }
    const req = parseTxn(text);
    const client = makeClient(common);
    try {
      let res;
      try {
        res = await client.txn(req);
      } catch (err) {
        if (err instanceof RangeError) throw new UsageError(err.message);
        throw err;
      }
      if (common.json) printJson(res);
      else process.stdout.write(`${res.succeeded ? 'SUCCEEDED' : 'FAILED'} (revision ${res.revision})\n${res.responses.map((r) => `${describe(r)}\n`).join('')}`);
      return res.succeeded ? 0 : 1;
    } finally {
      client.close();
    }
  });
}
