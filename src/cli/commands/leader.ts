// leasekv leader transfer [--to ID]: hand leadership to a caught-up voter (leasekv.v1.Cluster).
import { command, COMMON_HELP, emit, makeClient, parse, want } from './common.ts';

const USAGE = `usage: leasekv leader transfer [--to ID]

The leader gives up its lease, brings the target up to date and tells it to campaign; prints the
new leader once it leads. Without --to: the most caught-up voter. Refused for a target that is not
a caught-up voter (a learner, or one that has not heard from the leader within an election timeout).`;

export function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'transfer') {
    const help = sub === '--help' || sub === '-h';
    (help ? process.stdout : process.stderr).write(
      `${help ? '' : `leasekv leader: expected 'transfer'${sub === undefined ? '' : `, got '${sub}'`}\n\n`}${USAGE}\n${help ? `${COMMON_HELP}\n` : ''}`,
    );
    return Promise.resolve(help ? 0 : 2);
  }
  return command('leader transfer', USAGE, rest, async () => {
    const { common, positionals, values } = parse(rest, { to: { type: 'string' } });
    want(positionals, 0, 'no arguments (the target goes in --to)');
    const client = makeClient(common);
    try {
      const a = await client.cluster(
        'TransferLeadership',
        { target: values.to ?? '' },
        { deadlineMs: common.deadlineMs },
      );
      emit(common.format, {
        simple: () => `leader is now ${String(a['leader'])}\n`,
        table: () => `LEADER\n${String(a['leader'])}\n`,
        json: () => a,
      });
      return 0;
    } finally {
      await client.close();
    }
  });
}
