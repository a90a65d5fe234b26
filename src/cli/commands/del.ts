// leasekv del KEY
import { command, makeClient, parse, printJson, want } from './common.ts';

const USAGE = `usage: leasekv del KEY [options]

Deletes KEY through the leader (exactly once). Prints the number of keys deleted (1 or 0).`;

export function run(argv: string[]): Promise<number> {
  return command('del', USAGE, argv, async () => {
    const { common, positionals } = parse(argv, {});
    want(positionals, 1, 'KEY');
    const client = makeClient(common);
    try {
      const res = await client.delete(positionals[0]!);
      if (common.json) printJson(res);
      else process.stdout.write(`${res.deleted ? 1 : 0}\n`);
      return 0;
    } finally {
      client.close();
    }
  });
}
