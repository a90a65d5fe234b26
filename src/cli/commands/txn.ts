// leasekv txn [FILE|-]: a transaction described in JSON (the client library's TxnRequest).
import { readFileSync } from 'node:fs';
import type { TxnOpResponse, TxnRequest } from '../../client/index.ts';
import { command, emit, field, makeClient, parse, renderTable, UsageError } from './common.ts';

const USAGE = `usage: leasekv txn [FILE | -] [options]

Runs one transaction, read as JSON from FILE or standard input: every comparison in "compare" must
hold for the operations in "success" to run; otherwise those in "failure" run. Atomic, exactly once.
  {"compare": [{"key": "cfg/v", "target": "value", "result": "=", "value": "1"},
               {"key": "lock", "target": "version", "result": "=", "value": 0}],
   "success": [{"op": "put", "key": "cfg/v", "value": "2"}, {"op": "get", "key": "cfg/v"}],
   "failure": [{"op": "range", "prefix": "cfg/", "limit": 10}]}
targets: value, version, createRevision, modRevision (version 0: the key does not exist);
results: =, !=, <, >; ops: put (key, value), delete (key), get (key), range (prefix, limit).
Exit code 1 when the comparisons failed.
output (-w): simple "SUCCEEDED (revision N)" or "FAILED (revision N)" then one line per operation
(a range: one more line per key, KEY<TAB>VALUE); table "OP  KEY  VALUE  MOD_REVISION" per key read or
written; json the client library's TxnResult {succeeded, responses, index, revision}`;

const TOP_LEVEL = new Set(['compare', 'success', 'failure']);

export function parseTxn(text: string): TxnRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`the transaction is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new UsageError('the transaction must be a JSON object with compare, success and failure');
  for (const [k, v] of Object.entries(raw)) {
    if (!TOP_LEVEL.has(k)) throw new UsageError(`unknown field '${k}' (expected compare, success, failure)`);
    if (!Array.isArray(v)) throw new UsageError(`'${k}' must be an array`);
    for (const e of v)
      if (typeof e !== 'object' || e === null || Array.isArray(e))
        throw new UsageError(`every element of '${k}' must be an object`);
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
      return r.kv === undefined ? 'get (not found)' : `get ${field(r.kv.key)}\t${field(r.kv.value)}`;
    case 'range':
      return [
        `range ${r.kvs.length}${r.more ? ' (more)' : ''}`,
        ...r.kvs.map((kv) => `${field(kv.key)}\t${field(kv.value)}`),
      ].join('\n');
  }
}

function tableRows(req: TxnRequest, succeeded: boolean, responses: readonly TxnOpResponse[]): string[][] {
  const ops = (succeeded ? req.success : req.failure) ?? [];
  const rows: string[][] = [];
  responses.forEach((r, i) => {
    const op = ops[i];
    if (r.op === 'range') for (const kv of r.kvs) rows.push(['range', kv.key, kv.value, String(kv.modRevision)]);
    else if (r.op === 'get')
      rows.push([
        'get',
        r.kv?.key ?? (op?.op === 'get' ? op.key : ''),
        r.kv?.value ?? '(not found)',
        String(r.kv?.modRevision ?? 0),
      ]);
    else if (r.op === 'delete')
      rows.push(['delete', op?.op === 'delete' ? op.key : '', r.deleted ? '(deleted)' : '(absent)', '']);
    else rows.push(['put', op?.op === 'put' ? op.key : '', op?.op === 'put' ? op.value : '', '']);
  });
  return rows;
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
      emit(common.format, {
        simple: () =>
          `${res.succeeded ? 'SUCCEEDED' : 'FAILED'} (revision ${res.revision})\n${res.responses.map((r) => `${describe(r)}\n`).join('')}`,
        table: () => renderTable(['OP', 'KEY', 'VALUE', 'MOD_REVISION'], tableRows(req, res.succeeded, res.responses)),
        json: () => res,
      });
      return res.succeeded ? 0 : 1;
    } finally {
      await client.close();
    }
  });
}
