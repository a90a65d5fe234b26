// leasekv put KEY VALUE | put KEY - | put KEY --value-file PATH
import { command, emit, makeClient, parse, readValue, renderTable, UsageError } from './common.ts';

const USAGE = `usage: leasekv put KEY VALUE [options]
       leasekv put KEY - [options]                  (the value from stdin)
       leasekv put KEY --value-file PATH [options]  (the value from a file)

Writes VALUE at KEY through the leader (exactly once, even when retried). Prints OK.
The value from stdin or a file is taken byte for byte (a trailing newline is kept) and must be
UTF-8; use it for values too long for the command line (the server's limit is 1 MiB by default).
  --value-file PATH   read the value from PATH
  --ttl ID            attach KEY to TTL grant ID (leasekv ttl grant): it is deleted when the grant ends
output (-w): simple "OK", table "KEY  INDEX", json {"index": N, "revision": N}`;

export function run(argv: string[]): Promise<number> {
  return command('put', USAGE, argv, async () => {
    const { common, positionals, values } = parse(argv, { 'value-file': { type: 'string' }, ttl: { type: 'string' } });
    const ttlText = values.ttl;
    const ttlId = ttlText === undefined ? undefined : Number(ttlText);
    if (ttlId !== undefined && (!Number.isSafeInteger(ttlId) || ttlId < 1))
      throw new UsageError(`--ttl must be a TTL grant id (an integer >= 1), got '${ttlText}'`);
    const fromFile = values['value-file'] !== undefined;
    if (positionals.length !== (fromFile ? 1 : 2)) {
      throw new UsageError(
        `expected ${fromFile ? 'KEY --value-file PATH' : 'KEY VALUE (VALUE - reads stdin)'}, got ${positionals.length} argument(s)`,
      );
    }
    const key = positionals[0]!;
    const value = await readValue({ arg: positionals[1], file: values['value-file'], name: 'VALUE' });
    const client = makeClient(common);
    try {
      const res = await client.put(key, value, ttlId === undefined ? {} : { ttlId });
      emit(common.format, {
        simple: () => 'OK\n',
        table: () => renderTable(['KEY', 'INDEX'], [[key, String(res.index)]]),
        json: () => res,
      });
      return 0;
    } finally {
      await client.close();
    }
  });
}
