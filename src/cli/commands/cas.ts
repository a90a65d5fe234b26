// leasekv cas KEY OLD NEW | leasekv cas --absent KEY NEW
import { command, makeClient, parse, printJson, UsageError } from './common.ts';

const USAGE = `usage: leasekv cas KEY OLD NEW [options]
       leasekv cas --absent KEY NEW [options]

Sets KEY to NEW only if its value is OLD (or, with --absent, only if KEY does not exist).
Prints OK when swapped; otherwise says what was found and exits with code 1.
  --absent   expect the key not to exist`;

export function run(argv: string[]): Promise<number> {
  return command('cas', USAGE, argv, async () => {
    const { common, positionals, values } = parse(argv, { absent: { type: 'boolean' } });
    const absent = values.absent === true;
    const n = absent ? 2 : 3;
    if (positionals.length !== n) throw new UsageError(`expected ${absent ? 'KEY NEW (with --absent)' : 'KEY OLD NEW'}, got ${positionals.length} argument(s)`);
    const key = positionals[0]!;
    const expected = absent ? null : positionals[1]!;
    const value = positionals[n - 1]!;
    const client = makeClient(common);
    try {
      const res = await client.compareAndSwap(key, expected, value);
      if (common.json) printJson(res);
      else if (res.swapped) process.stdout.write('OK\n');
      else if (res.current === undefined) process.stderr.write(`leasekv cas: compare failed: key '${key}' does not exist\n`);
      else process.stderr.write(`leasekv cas: compare failed: current value is ${JSON.stringify(res.current)}\n`);
      return res.swapped ? 0 : 1;
    } finally {
      client.close();
    }
  });
}
