// leasekv member list|add|promote|remove: membership of a running cluster (leasekv.v1.Cluster,
// docs/api.md "Cluster"; README "Running nodes on several hosts").
import {
  command,
  dispatch,
  emit,
  listCommand,
  parse,
  renderTable,
  UsageError,
  want,
  withClient,
  type Common,
} from './common.ts';

const USAGE = `usage: leasekv member list [-w simple|table|json]
       leasekv member add ID --peer-addr HOST:PORT --client-addr HOST:PORT [--learner]
       leasekv member promote ID
       leasekv member remove ID [--force]

list     the members: id, voter or learner, peer and client address (any node answers)
add      adds ID, which must never have been a member, as a learner; without --learner the leader
         promotes it to voter once it has caught up. Then start it on its host with
         leasekv serve --id ID --data-dir DIR --listen-peer … --listen-client … --join ENDPOINTS
         --cluster-token TOKEN and the other members' TLS (or --insecure) flags
promote  makes learner ID a voter; refused until it has caught up (it has heard from the leader
         within an election timeout and holds every committed entry)
remove   removes ID for good (an id never comes back; a removed leader hands over first). Refused
         if fewer healthy voters than a majority would remain, unless --force
One change at a time: a change is refused while the previous one is not committed.`;

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

/**
 * The answer with its 64-bit counters (configIndex, index) as numbers: JSON carries uint64 as a
 * string (the proto3 JSON mapping), and every other -w json of the CLI prints counters as numbers.
 */
export function withNumbers(answer: Record<string, unknown>): Record<string, unknown> {
  const out = { ...answer };
  for (const k of ['configIndex', 'index']) if (typeof out[k] === 'string') out[k] = Number(out[k]);
  return out;
}

/** The table of members; with `leader` (the id, "" if none is known) a LEADER column. */
function memberTable(ms: readonly Member[], leader?: string): { headers: string[]; rows: string[][] } {
  const rows = ms.map((m) => [
    m.id,
    m.learner ? 'learner' : 'voter',
    ...(leader === undefined ? [] : [m.id === leader ? 'yes' : 'no']),
    // '-' for an address not known (as the other tables; field() would print "").
    m.peerAddr || '-',
    m.clientAddr || '-',
  ]);
  return { headers: ['ID', 'ROLE', ...(leader === undefined ? [] : ['LEADER']), 'PEER-ADDR', 'CLIENT-ADDR'], rows };
}

/**
 * The `serve` command that starts member `id` just added: its own flags, --join, and the flags
 * every member must share (serve-args.ts, config-flags.ts) — the cluster token always (a peer with
 * another token is refused), plaintext or TLS as the endpoints are.
 */
export function joinCommand(
  id: string,
  peerAddr: string,
  clientAddr: string,
  common: Common,
  after: readonly Member[] = [],
): string {
  // The members' own client addresses after the change, not the endpoints this command was given:
  // those may name the member just removed (replacing a dead one) (session 11 audit).
  const others = after.filter((m) => m.id !== id && m.clientAddr !== '').map((m) => m.clientAddr);
  const join = others.length > 0 ? others : common.endpoints;
  const security =
    common.tls === null
      ? '--insecure'
      : '--tls-cert CERT --tls-key KEY --tls-ca CA --peer-tls-cert PEER-CERT --peer-tls-key PEER-KEY --peer-tls-ca PEER-CA';
  return (
    `  leasekv serve --id ${id} --data-dir DIR --listen-peer ${peerAddr} --listen-client ${clientAddr} ` +
    `--join ${join.join(',')} --cluster-token TOKEN ${security}\n` +
    `with TOKEN the other members' --cluster-token (default leasekv), and their --profile, timing (--*-ms) and\n` +
    `--auth flags if they set any (see leasekv serve --help)\n`
  );
}

export function run(argv: string[]): Promise<number> {
  return dispatch('member', USAGE, argv, {
    list: (rest) =>
      listCommand('member list', USAGE, rest, {
        call: async (c, opts) => withNumbers(await c.cluster('MemberList', {}, opts)),
        headers: ['ID', 'ROLE', 'LEADER', 'PEER-ADDR', 'CLIENT-ADDR'],
        rows: (a) => memberTable(members(a), String(a['leader'] ?? '')).rows,
      }),
    add: (rest) =>
      command('member add', USAGE, rest, async () => {
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
            `start it on its host with:\n${joinCommand(id, peerAddr, clientAddr, common, members(a))}`,
        );
      }),
    promote: (rest) =>
      command('member promote', USAGE, rest, async () => {
        const { common, positionals } = parse(rest, {});
        want(positionals, 1, "the learner's ID");
        const id = positionals[0] as string;
        return change(
          common,
          'MemberPromote',
          { id },
          (a) => `promoted ${id} to voter at index ${String(a['index'])}\n`,
        );
      }),
    remove: (rest) =>
      command('member remove', USAGE, rest, async () => {
        const { common, positionals, values } = parse(rest, { force: { type: 'boolean' } });
        want(positionals, 1, "the member's ID");
        const id = positionals[0] as string;
        return change(
          common,
          'MemberRemove',
          { id, force: values.force === true },
          (a) =>
            `removed ${id} at index ${String(a['index'])}; its process exits by itself (code 3) once it learns it — do not restart it; keep or delete its data dir (the id can never rejoin)\n`,
        );
      }),
  });
}

/** A change; its answer names no leader, so its table has no LEADER column. */
async function change(
  common: Common,
  method: 'MemberAdd' | 'MemberPromote' | 'MemberRemove',
  body: Record<string, unknown>,
  say: (a: Record<string, unknown>) => string,
): Promise<number> {
  const a = withNumbers(await withClient(common, (c) => c.cluster(method, body, { deadlineMs: common.deadlineMs })));
  const t = memberTable(members(a));
  emit(common.format, {
    simple: () => say(a),
    table: () => renderTable(t.headers, t.rows),
    json: () => a,
  });
  return 0;
}
