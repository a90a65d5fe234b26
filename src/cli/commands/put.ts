// leasekv put KEY VALUE
import { command, makeClient, parse, printJson, want } from './common.ts';

const USAGE = `usage: leasekv put KEY VALUE [options]

Writes VALUE at KEY through the leader (exactly once, even when retried). Prints OK.`;

export function run(argv: string[]): Promise<number> {
  return command('put', USAGE, argv, async () => {
    const { common, positionals } = parse(argv, {});
    want(positionals, 2, 'KEY VALUE');
    const client = makeClient(common);
    try {
      const res = await client.put(positionals[0]!, positionals[1]!);
      if (common.json) printJson(res);
      else process.stdout.write('OK\n');
      return 0;
    } finally {
      client.close();
    }
  });
}
