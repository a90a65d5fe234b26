// leasekv cas KEY OLD NEW | leasekv cas --absent KEY NEW (NEW may be - or --value-file PATH)
import { command, emit, makeClient, parse, readValue, renderTable, UsageError } from './common.ts';

const USAGE = `usage: leasekv cas KEY OLD NEW [options]
       leasekv cas --absent KEY NEW [options]

Sets KEY to NEW only if its value is OLD (or, with --absent, only if KEY does not exist).
Prints OK when swapped; otherwise says what was found and exits with code 1.
NEW may be - (read from stdin) or left out with --value-file PATH (read from a file), as for put.
  --absent            expect the key not to exist
  --value-file PATH   read NEW from PATH
output (-w): simple "OK" (a failed compare goes to stderr), table "KEY  SWAPPED  CURRENT  INDEX",
json {swapped, current?, index}`;

export function run(argv: string[]): Promise<number> {
  return command('cas', USAGE, argv, async () => {
    const { common, positionals, values } = parse(argv, {
      absent: { type: 'boolean' },
      'value-file': { type: 'string' },
    });
    const absent = values.absent === true;
    const fromFile = values['value-file'] !== undefined;
    const n = (absent ? 2 : 3) - (fromFile ? 1 : 0);
    if (positionals.length !== n) {
      const shape = `${absent ? '--absent KEY' : 'KEY OLD'}${fromFile ? ' --value-file PATH' : ' NEW'}`;
      throw new UsageError(`expected ${shape}, got ${positionals.length} argument(s)`);
    }
    const key = positionals[0]!;
    const expected = absent ? null : positionals[1]!;
    const value = await readValue({
      arg: fromFile ? undefined : positionals[n - 1],
      file: values['value-file'],
      name: 'NEW',
    });
    const client = makeClient(common);
    try {
      const res = await client.compareAndSwap(key, expected, value);
      const current = res.swapped ? '-' : res.current === undefined ? '(absent)' : res.current;
      emit(common.format, {
        simple: () => (res.swapped ? 'OK\n' : ''),
        table: () =>
          renderTable(['KEY', 'SWAPPED', 'CURRENT', 'INDEX'], [[key, String(res.swapped), current, String(res.index)]]),
        json: () => res,
      });
      if (!res.swapped && common.format === 'simple') {
        if (res.current === undefined)
          process.stderr.write(`leasekv cas: compare failed: key '${key}' does not exist\n`);
        else process.stderr.write(`leasekv cas: compare failed: current value is ${JSON.stringify(res.current)}\n`);
      }
      return res.swapped ? 0 : 1;
    } finally {
      await client.close();
    }
  });
}
