// leasekv scan PREFIX [--limit N] [--keys-only | --count-only]
import type { KeyValue, LeasekvClient, RangeResult } from '../../client/index.ts';
import { command, emit, field, makeClient, parse, renderTable, UsageError } from './common.ts';

const USAGE = `usage: leasekv scan [PREFIX] [--limit N] [--keys-only | --count-only] [--consistency linearizable|stale] [options]

Prints every key starting with PREFIX (all keys when omitted) and its value, in key order, up to
--limit keys (default 1000; says so on stderr when more keys match). Read in pages, each under the
server's --max-response-bytes, all at the revision of the first: one consistent view.
  --keys-only    keys only (one per line; values are not read)
  --count-only   only how many keys match
output (-w):
  simple  (default) one "KEY<TAB>VALUE" line per key. A key or value holding a tab, newline or
          other control character, starting with a double quote, or empty is printed as a JSON
          string ("a\\tb"), so every line is one key and a field starting with " is always quoted.
  table   aligned KEY and VALUE columns, quoted the same way
  json    {kvs: [{key, value}], more, index}`;

/** The simple output: one line per key, fields quoted when a line-oriented reader needs it. */
export function scanLines(res: RangeResult): string {
  return res.kvs.map((kv) => `${field(kv.key)}\t${field(kv.value)}\n`).join('');
}

/** Up to `limit` keys under `prefix`, read in pages under the answer cap (client scan), as one result. */
export async function scanAll(
  client: LeasekvClient,
  prefix: string,
  opts: { limit: number; consistency: 'linearizable' | 'stale'; keysOnly: boolean },
): Promise<RangeResult> {
  const kvs: KeyValue[] = [];
  let last: RangeResult | undefined;
  let revision = 0;
  for await (const page of client.scan(prefix, opts)) {
    kvs.push(...page.kvs);
    last = page;
    if (revision === 0) revision = page.revision;
  }
  return { kvs, more: last?.more ?? false, count: 0, index: last?.index ?? 0, revision };
}

export function run(argv: string[]): Promise<number> {
  return command('scan', USAGE, argv, async () => {
    const { common, positionals, values } = parse(argv, {
      limit: { type: 'string' },
      consistency: { type: 'string' },
      'keys-only': { type: 'boolean' },
      'count-only': { type: 'boolean' },
    });
    if (positionals.length > 1)
      throw new UsageError(`expected at most one PREFIX, got ${positionals.length} arguments`);
    let limit: number | undefined;
    if (values.limit !== undefined) {
      limit = Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new UsageError(`--limit must be a positive integer, got '${values.limit}'`);
    }
    const consistency = values.consistency ?? 'linearizable';
    if (consistency !== 'linearizable' && consistency !== 'stale') {
      throw new UsageError(`--consistency must be linearizable or stale, got '${consistency}'`);
    }
    const keysOnly = values['keys-only'] === true;
    if (keysOnly && values['count-only'] === true)
      throw new UsageError('--keys-only and --count-only exclude each other');
    const client = makeClient(common);
    try {
      if (values['count-only'] === true) {
        const res = await client.range(positionals[0] ?? '', { countOnly: true, consistency });
        emit(common.format, {
          simple: () => `${res.count}\n`,
          table: () => renderTable(['COUNT', 'REVISION'], [[String(res.count), String(res.revision)]]),
          json: () => ({ count: res.count, index: res.index, revision: res.revision }),
        });
        return 0;
      }
      const res = await scanAll(client, positionals[0] ?? '', { limit: limit ?? 1000, consistency, keysOnly });
      emit(common.format, {
        simple: () => (keysOnly ? res.kvs.map((kv) => `${field(kv.key)}\n`).join('') : scanLines(res)),
        table: () =>
          renderTable(
            ['KEY', 'VALUE'],
            res.kvs.map((kv) => [kv.key, kv.value]),
          ),
        json: () => ({ kvs: res.kvs, more: res.more, index: res.index, revision: res.revision }),
      });
      if (res.more && !common.json) process.stderr.write(`(more keys match; raise --limit)\n`);
      return 0;
    } finally {
      await client.close();
    }
  });
}
