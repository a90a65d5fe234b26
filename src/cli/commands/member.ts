// leasekv member list|add|promote|remove: membership of a running cluster (leasekv.v1.Cluster,
// docs/api.md "Cluster"; README "Running nodes on several hosts").
import { command, emit, field, makeClient, parse, renderTable, UsageError, want, type Format } from './common.ts';

const USAGE = `usage: leasekv member list [-w simple|table|json]
       leasekv member add ID --peer-addr HOST:PORT --client-addr HOST:PORT [--learner]
       leasekv member promote ID
       leasekv member remove ID [--force]

list     the members: id, voter or learner, peer and client address (any node answers)
add      adds ID, which must never have been a member, as a learner; without --learner the leader
         promotes it to voter once it has caught up. Then start it on its host with
         leasekv serve --id ID --data-dir DIR --listen-peer … --listen-client … --join ENDPOINTS
promote  makes learner ID a voter; refused until it has caught up (it has heard from the leader
         within an election timeout and holds every committed entry)
remove   removes ID for good (an id never comes back; a removed leader hands over first). Refused
         if fewer healthy voters than a majority would remain, unless --force
One change at a time: a change is refused while the previous one is not committed.`;

const FORMATS: readonly Format[] = ['table', 'simple', 'json'];

interface Member {
  readonly id: string;
  readonly peerAddr: string;
  readonly clientAddr: string;
  readonly learner: boolean;
}

function members(answer: Record<string, unknown>): Member[] {
  const list = Array.isArray(answer['members']) ? (answer['members'] as Record<string, unknown>[]) : [];
  return list.map((m) => ({
    id: String(m['id'] ?? ''),
    peerAddr: String(m['peerAddr'] ?? ''),
    clientAddr: String(m['clientAddr'] ?? ''),
    learner: m['learner'] === true,
  }));
}

function rows(ms: readonly Member[], leader: string): string[][] {
  return ms.map((m) => [m.id, m.learner ? 'learner' : 'voter', m.id === leader ? 'yes' : '', m.peerAddr, m.clientAddr]);
}

export function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return Promise.resolve(sub === undefined ? 2 : 0);
  }
  switch (sub) {
    case 'list':
      return command(
        'member list',
        USAGE,
        rest,
        async () => {
          const { common, positionals } = parse(rest, {}, { formats: FORMATS, defaultFormat: 'table' });
          want(positionals, 0, 'no arguments');
          const client = makeClient(common);
          try {
            const a = await client.cluster('MemberList', {}, { deadlineMs: common.deadlineMs });
            const leader = String(a['leader'] ?? '');
            const ms = members(a);
            emit(common.format, {
              table: () => renderTable(['ID', 'ROLE', 'LEADER', 'PEER-ADDR', 'CLIENT-ADDR'], rows(ms, leader)),
              simple: () =>
                rows(ms, leader)
                  .map((r) => `${r.map(field).join(', ')}\n`)
                  .join(''),
              json: () => a,
            });
            return 0;
          } finally {
            await client.close();
          }
        },
        { formats: FORMATS, defaultFormat: 'table' },
      );
    case 'add':
      return command('member add', USAGE, rest, async () => {
        const { common, positionals, values } = parse(rest, {
          'peer-addr': { type: 'string' },
          'client-addr': { type: 'string' },
          learner: { type: 'boolean' },
        });
        want(positionals, 1, "the new member's ID");
        const peerAddr = values['peer-addr'];
        const clientAddr = values['client-addr'];
        if (peerAddr === undefined)
          throw new UsageError('--peer-addr HOST:PORT is required (the address the other members dial)');
        if (clientAddr === undefined)
          throw new UsageError('--client-addr HOST:PORT is required (the address clients use)');
        const id = positionals[0] as string;
        const learner = values.learner === true;
        return change(
          common,
          'MemberAdd',
          { id, peerAddr, clientAddr, learner },
          (a) =>
            `added ${id} as a learner${learner ? '' : ' (the leader makes it a voter once it has caught up)'} at index ${String(a['index'])}\n` +
            `start it on its host with:\n  leasekv serve --id ${id} --data-dir DIR --listen-peer ${peerAddr} --listen-client ${clientAddr} --join ${common.endpoints.join(',')} and the TLS flags of the other members (see leasekv serve --help)\n`,
        );
      });
    case 'promote':
      return command('member promote', USAGE, rest, async () => {
        const { common, positionals } = parse(rest, {});
        want(positionals, 1, "the learner's ID");
        const id = positionals[0] as string;
        return change(
          common,
          'MemberPromote',
          { id },
          (a) => `promoted ${id} to voter at index ${String(a['index'])}\n`,
        );
      });
    case 'remove':
      return command('member remove', USAGE, rest, async () => {
        const { common, positionals, values } = parse(rest, { force: { type: 'boolean' } });
        want(positionals, 1, "the member's ID");
        const id = positionals[0] as string;
        return change(
          common,
          'MemberRemove',
          { id, force: values.force === true },
          (a) =>
            `removed ${id} at index ${String(a['index'])}; stop its process and keep or delete its data dir (the id can never rejoin)\n`,
        );
      });
    default:
      process.stderr.write(`leasekv member: unknown subcommand '${sub}' (list, add, promote, remove)\n\n${USAGE}\n`);
      return Promise.resolve(2);
  }
}

async function change(
  common: Parameters<typeof makeClient>[0],
  method: 'MemberAdd' | 'MemberPromote' | 'MemberRemove',
  body: Record<string, unknown>,
  say: (a: Record<string, unknown>) => string,
): Promise<number> {
  const client = makeClient(common);
  try {
    const a = await client.cluster(method, body, { deadlineMs: common.deadlineMs });
    emit(common.format, {
      simple: () => say(a),
      table: () => renderTable(['ID', 'ROLE', 'LEADER', 'PEER-ADDR', 'CLIENT-ADDR'], rows(members(a), '')),
      json: () => a,
    });
    return 0;
  } finally {
    await client.close();
  }
}
