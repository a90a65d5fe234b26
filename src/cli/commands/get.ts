// leasekv get KEY [--consistency linearizable|stale]
import { UsageError, command, emit, makeClient, parse, renderTable, want } from './common.ts';

const USAGE = `usage: leasekv get KEY [--consistency linearizable|stale] [options]

Prints the value at KEY. Exit code 1 when the key does not exist.
  --consistency linearizable   (default) answered by the leader under its lease, or via ReadIndex
  --consistency stale          answered by any node from its own state; may be behind
output (-w): simple the value as stored, table "KEY  VALUE  INDEX  READ" (text quoted when it holds
tabs, newlines or other control characters), json {key, found, value, index, readMode, staleByMs}`;

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
      if (!res.found && common.format !== 'json') {
        process.stderr.write(`leasekv get: key '${key}' not found\n`);
        return 1;
      }
      emit(common.format, {
        simple: () => `${res.value}\n`,
        table: () =>
          renderTable(['KEY', 'VALUE', 'INDEX', 'READ'], [[key, res.value, String(res.index), res.readMode]]),
        json: () => ({ key, ...res }),
      });
      return res.found ? 0 : 1;
    } finally {
      await client.close();
    }
  });
}
