// leasekv scan PREFIX [--limit N]
import { command, makeClient, parse, printJson, UsageError } from './common.ts';

const USAGE = `usage: leasekv scan [PREFIX] [--limit N] [--consistency linearizable|stale] [options]

Prints every key starting with PREFIX (all keys when omitted) and its value, one "key<TAB>value"
per line, in key order. Says so on stderr when more keys matched than --limit (default: server's, 1000).`;

export function run(argv: string[]): Promise<number> {
  return command('scan', USAGE, argv, async () => {
    const { common, positionals, values } = parse(argv, { limit: { type: 'string' }, consistency: { type: 'string' } });
    if (positionals.length > 1) throw new UsageError(`expected at most one PREFIX, got ${positionals.length} arguments`);
    let limit: number | undefined;
    if (values.limit !== undefined) {
      limit = Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive integer, got '${values.limit}'`);
    }
    const consistency = values.consistency ?? 'linearizable';
    if (consistency !== 'linearizable' && consistency !== 'stale') {
      throw new UsageError(`--consistency must be linearizable or stale, got '${consistency}'`);
    }
    const client = makeClient(common);
    try {
      const res = await client.range(positionals[0] ?? '', limit === undefined ? { consistency } : { limit, consistency });
      if (common.json) {
        printJson(res);
        return 0;
      }
      process.stdout.write(res.kvs.map((kv) => `${kv.key}\t${kv.value}\n`).join(''));
      if (res.more) process.stderr.write(`(more keys match; raise --limit)\n`);
      return 0;
    } finally {
      client.close();
    }
  });
}
