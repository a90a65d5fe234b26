// leasekv status: a table of every node, like `etcdctl endpoint status`.
import type { EndpointStatus } from '../../client/index.ts';
import { command, emit, field, makeClient, parse, renderTable, want, type Format } from './common.ts';

const FORMATS: readonly Format[] = ['table', 'simple', 'json'];

const USAGE = `usage: leasekv status [options]

Asks every endpoint for its status and prints one row per node: endpoint, id, role (leader,
follower, candidate, or learner: a member that receives the log but does not vote), term, leader,
commit and applied index, and the lease: "held Nms" on a leader holding its lease, "waiting Nms"
on a new leader waiting out the old leader's lease, "leader's Nms" on a follower (its view of the
leader's lease), keys, the node's leasekv version, PROTOCOL: the newest peer protocol it speaks,
and CLUSTER PROTOCOL: the newest every member is known to speak (lower than PROTOCOL during a
rolling upgrade; '-' from a node whose build predates these fields). -w json also gives, for each
member, the protocol this node spoke with it at their last handshake and the member's version.
Exit code 1 when any endpoint did not answer.
output (-w): table (default), simple (one comma-separated line per endpoint, the table's columns),
json (every endpoint's full status or error)`;

export function run(argv: string[]): Promise<number> {
  return command(
    'status',
    USAGE,
    argv,
    async () => {
      const { common, positionals } = parse(argv, {}, { formats: FORMATS, defaultFormat: 'table' });
      want(positionals, 0, 'no arguments');
      const client = makeClient(common);
      try {
        const all = await client.statusAll({ deadlineMs: Math.min(common.deadlineMs, 2000) });
        emit(common.format, {
          table: () => table(all),
          simple: () =>
            rows(all)
              .map((r) => `${r.map(field).join(', ')}\n`)
              .join(''),
          json: () => all,
        });
        return all.every((s) => s.status !== undefined) ? 0 : 1;
      } finally {
        await client.close();
      }
    },
    { formats: FORMATS, defaultFormat: 'table' },
  );
}

const HEAD = [
  'ENDPOINT',
  'ID',
  'ROLE',
  'TERM',
  'LEADER',
  'COMMIT',
  'APPLIED',
  'LEASE',
  'KEYS',
  'VERSION',
  'PROTOCOL',
  'CLUSTER PROTOCOL',
];

/** An ERROR column only when an endpoint did not answer (its cause stood under VERSION before). */
export function table(all: readonly EndpointStatus[]): string {
  if (all.every((e) => e.status !== undefined)) return renderTable(HEAD, rows(all));
  return renderTable(
    [...HEAD, 'ERROR'],
    rows(all).map((r, i) => [...r, all[i]?.status === undefined ? (all[i]?.error ?? '') : '-']),
  );
}

function rows(all: readonly EndpointStatus[]): string[][] {
  return all.map((e) => {
    const s = e.status;
    if (s === undefined) return [e.endpoint, '-', 'unreachable', '-', '-', '-', '-', '-', '-', '-', '-', '-'];
    // Leader: its own lease, or (new leader) the old leader's lease it still waits out.
    // Follower: its view of the leader's lease.
    const lease = s.leaseHeld
      ? `held ${s.leaseRemainingMs}ms`
      : s.oldLeaseRemainingMs <= 0
        ? '-'
        : s.role === 'leader'
          ? `waiting ${s.oldLeaseRemainingMs}ms`
          : `leader's ${s.oldLeaseRemainingMs}ms`;
    // A learner (leasekv member add --learner, or a new member still catching up) follows and never votes.
    const role = s.members.some((m) => m.id === s.id && m.learner) ? 'learner' : s.role;
    return [
      e.endpoint,
      s.id,
      role,
      String(s.term),
      s.leader || '-',
      String(s.commitIndex),
      String(s.appliedIndex),
      lease,
      String(s.keys),
      s.version,
      orDash(s.maxProtocolVersion),
      orDash(s.clusterProtocolVersion),
    ];
  });
}

/** 0: a node whose build predates the field. */
function orDash(n: number): string {
  return n === 0 ? '-' : String(n);
}
