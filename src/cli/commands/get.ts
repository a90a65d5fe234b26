// leasekv get KEY [--consistency linearizable|stale]
import { UsageError, command, makeClient, parse, printJson, want } from './common.ts';

const USAGE = `usage: leasekv get KEY [--consistency linearizable|stale] [options]

Prints the value at KEY. Exit code 1 when the key does not exist.
  --consistency linearizable   (default) answered by the leader under its lease, or via ReadIndex
  --consistency stale          answered by any node from its own state; may be behind`;

export function run(argv: string[]): Promise<number> {
  return command('get', USAGE, argv, async () => {
    const { common, positionals, values } = parse(argv, { consistency: { type: 'string' } });
    want(positionals, 1, 'KEY');
    const consistency = values.consistency ?? 'linearizable';
    if (consistency !== 'linearizable' && consistency !== 'stale') {
      throw new UsageError(`--consistency must be linearizable or stale, got '${consistency}'`);
    }
    const client = makeClient(common);
    try {
      const key = positionals[0]!;
      const res = await client.get(key, { consistency });
      if (common.json) {
        printJson({ key, ...res });
        return res.found ? 0 : 1;
      }
      if (!res.found) {
        process.stderr.write(`leasekv get: key '${key}' not found\n`);
        return 1;
      }
      process.stdout.write(`${res.value}\n`);
      return 0;
    } finally {
      client.close();
    }
  });
}
