// leasekv scan PREFIX [--limit N]
import type { RangeResult } from '../../client/index.ts';
import { command, emit, field, makeClient, parse, renderTable, UsageError } from './common.ts';

const USAGE = `usage: leasekv scan [PREFIX] [--limit N] [--consistency linearizable|stale] [options]

Prints every key starting with PREFIX (all keys when omitted) and its value, in key order. Says so
on stderr when more keys matched than --limit (default: server's, 1000).
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

export function run(argv: string[]): Promise<number> {
  return command('scan', USAGE, argv, async () => {
    const { common, positionals, values } = parse(argv, { limit: { type: 'string' }, consistency: { type: 'string' } });
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
    const client = makeClient(common);
    try {
      const res = await client.range(
        positionals[0] ?? '',
        limit === undefined ? { consistency } : { limit, consistency },
      );
      emit(common.format, {
        simple: () => scanLines(res),
        table: () =>
          renderTable(
            ['KEY', 'VALUE'],
            res.kvs.map((kv) => [kv.key, kv.value]),
          ),
        json: () => res,
      });
      if (res.more && !common.json) process.stderr.write(`(more keys match; raise --limit)\n`);
      return 0;
    } finally {
      await client.close();
    }
  });
}
