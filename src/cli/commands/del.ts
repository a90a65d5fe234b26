// leasekv del KEY
import { command, emit, makeClient, parse, renderTable, want } from './common.ts';

const USAGE = `usage: leasekv del KEY [options]

Deletes KEY through the leader (exactly once). Prints the number of keys deleted (1 or 0).
output (-w): simple "1" or "0", table "KEY  DELETED  INDEX", json {deleted, index}`;

export function run(argv: string[]): Promise<number> {
  return command('del', USAGE, argv, async () => {
    const { common, positionals } = parse(argv, {});
    want(positionals, 1, 'KEY');
    const client = makeClient(common);
    try {
      const key = positionals[0]!;
      const res = await client.delete(key);
      emit(common.format, {
        simple: () => `${res.deleted ? 1 : 0}\n`,
        table: () => renderTable(['KEY', 'DELETED', 'INDEX'], [[key, String(res.deleted ? 1 : 0), String(res.index)]]),
        json: () => res,
      });
      return 0;
    } finally {
      await client.close();
    }
  });
}
