// How `leasekv up` shows its nodes: their output prefixed with their id (JSON log lines made
// readable), and the banner with the endpoints and example commands once a leader is known.
import type { Credentials } from '../../client/auth.ts';
import { ROOT_PASSWORD_FILE } from './credentials.ts';
import type { ChildProcess } from 'node:child_process';
import { relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { LeasekvClient } from '../../client/index.ts';
import type { ClientTlsOptions } from '../../client/transport.ts';
import { DEFAULT_ENDPOINTS } from './common.ts';
import type { NodePlan } from './up-plan.ts';

/** How long to wait for a leader before printing the banner anyway. */
const LEADER_WAIT_MS = 15_000;

export function prefix(child: ChildProcess, id: string): void {
  const tag = `[${id}] `;
  for (const [stream, out] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ] as const) {
    if (stream === null) continue;
    createInterface({ input: stream }).on('line', (line) => out.write(`${tag}${humanLine(line)}\n`));
  }
}

const LEVELS: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO ',
  40: 'WARN ',
  50: 'ERROR',
  60: 'FATAL',
};
const QUIET_FIELDS = new Set(['level', 'time', 'node', 'msg', 'pid', 'hostname']);

/** A node's JSON log line as a person reads it: time, level, message, then the other fields. */
export function humanLine(line: string): string {
  if (!line.startsWith('{')) return line;
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof rec['msg'] !== 'string') return line;
  const t = typeof rec['time'] === 'number' ? new Date(rec['time']).toISOString().slice(11, 23) : '';
  const extra = Object.entries(rec)
    .filter(([k]) => !QUIET_FIELDS.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
  return `${t} ${LEVELS[rec['level'] as number] ?? 'INFO '} ${rec['msg']}${extra === '' ? '' : `  (${extra})`}`;
}

export async function banner(
  nodes: readonly NodePlan[],
  dataDir: string,
  root: Credentials,
  tls: ClientTlsOptions,
  caPath: string,
): Promise<void> {
  const endpoints = nodes.map((n) => n.clientAddr);
  const client = new LeasekvClient({ endpoints, deadlineMs: 2000, credentials: root, tls });
  let leader = '';
  const until = performance.now() + LEADER_WAIT_MS; // monotonic: a wall-clock step must not stretch it
  try {
    while (leader === '' && performance.now() < until) {
      const all = await client.statusAll({ deadlineMs: 500 });
      leader = all.find((s) => s.status?.role === 'leader')?.status?.id ?? '';
      if (leader === '') await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await client.close();
  }
  const first = endpoints[0]!;
  const leaderAddr = nodes.find((n) => n.id === leader)?.clientAddr ?? first;
  // The CLI's default endpoints reach the first three nodes, and hints lead on from there.
  const isDefault = endpoints.slice(0, 3).join(',') === DEFAULT_ENDPOINTS;
  const ep = isDefault ? '' : ` --endpoints ${endpoints.join(',')}`;
  const near = relative(process.cwd(), caPath);
  const ca = near === '' || near.startsWith('..') ? caPath : near;
  console.log(
    [
      '',
      `leasekv: ${nodes.length} nodes up${leader === '' ? ' (no leader yet)' : `, leader ${leader}`}, TLS on; data in ${resolve(dataDir)}`,
      `  endpoints: ${endpoints.map((e) => `https://${e}`).join(',')}`,
      `  try:       npx leasekv put greeting hello${ep}`,
      `             npx leasekv get greeting${ep}`,
      `             npx leasekv status${ep}`,
      `             curl --cacert ${ca} -H 'content-type: application/json' -H "authorization: Bearer $(npx leasekv user token${ep})" -d '{"key":"greeting"}' https://${leaderAddr}/leasekv.v1.KV/Get   # the leader; a follower answers "not leader" and names it`,
      `  auth:      on; user root, password in ${resolve(dataDir, ROOT_PASSWORD_FILE)} (the CLI reads it from this folder; leasekv user/role manage others)`,
      `  dashboard: https://${first}/   (signed by the local CA ${ca}: trust it in the browser, or accept the warning)`,
      '  Ctrl-C stops the cluster; run the same command again to resume it.',
      '',
    ].join('\n'),
  );
}
