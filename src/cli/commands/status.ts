// leasekv status: a table of every node, like `etcdctl endpoint status`.
import type { EndpointStatus } from '../../client/index.ts';
import { command, makeClient, parse, printJson, want } from './common.ts';

const USAGE = `usage: leasekv status [options]

Asks every endpoint for its status and prints one row per node: endpoint, id, role, term, leader,
commit and applied index, and the lease: "held Nms" on a leader holding its lease, "waiting Nms"
on a new leader waiting out the old leader's lease, "leader's Nms" on a follower (its view of the
leader's lease).
Exit code 1 when any endpoint did not answer.`;

export function run(argv: string[]): Promise<number> {
  return command('status', USAGE, argv, async () => {
    const { common, positionals } = parse(argv, {});
    want(positionals, 0, 'no arguments');
    const client = makeClient(common);
    try {
      const all = await client.statusAll({ deadlineMs: Math.min(common.deadlineMs, 2000) });
      if (common.json) printJson(all);
      else process.stdout.write(table(all));
      return all.every((s) => s.status !== undefined) ? 0 : 1;
    } finally {
      client.close();
    }
  });
}

export function table(all: readonly EndpointStatus[]): string {
  const head = ['ENDPOINT', 'ID', 'ROLE', 'TERM', 'LEADER', 'COMMIT', 'APPLIED', 'LEASE', 'KEYS', 'VERSION'];
  const rows = all.map((e) => {
    const s = e.status;
    if (s === undefined) return [e.endpoint, '-', 'unreachable', '-', '-', '-', '-', '-', '-', e.error ?? ''];
    // Leader: its own lease, or (new leader) the old leader's lease it still waits out.
    // Follower: its view of the leader's lease.
    const lease = s.leaseHeld
      ? `held ${s.leaseRemainingMs}ms`
      : s.oldLeaseRemainingMs <= 0
        ? '-'
        : s.role === 'leader'
          ? `waiting ${s.oldLeaseRemainingMs}ms`
          : `leader's ${s.oldLeaseRemainingMs}ms`;
    return [e.endpoint, s.id, s.role, String(s.term), s.leader || '-', String(s.commitIndex), String(s.appliedIndex), lease, String(s.keys), s.version];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === head.length - 1 ? 0 : (r[i] ?? '').length))));
  const line = (r: readonly string[]): string => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}
