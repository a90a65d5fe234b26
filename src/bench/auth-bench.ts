// `--scenario auth` (issue 15): lease-read latency with auth off and on, in one run. The same 3-node
// cluster setup twice — plain, then `--auth --root-password-file` with every request carrying
// `authorization: Bearer <token>` (the token from Authenticate, as a client library would) — and the
// same closed-loop read load on the leader. With auth on a read pays the token check (a cached
// HMAC result) and the permission lookup; the target (issue 15) is p50 within 1.5× of auth off.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchArgs } from './args.ts';
import { preload, runLoad } from './load.ts';
import { postJson, sleep } from './procs.ts';
import { startLeasekv } from './systems.ts';
import { AuthTable } from '../kv/auth.ts';
import { AuthGate, allowKey } from '../server/auth/gate.ts';

export interface AuthRow {
  readonly auth: 'off' | 'on';
  readonly round: number;
  readonly readsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
}

/** Rounds per setting, alternating off/on, so that a load change on the machine hits both. */
const ROUNDS = 2;
const PASSWORD = 'bench-root-password';

async function tokenFor(port: number): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const r = await postJson(port, '/leasekv.v1.Auth/Authenticate', { name: 'root', password: PASSWORD }, 5000).catch(
      () => null,
    );
    const token = (r?.body as { token?: string } | undefined)?.token;
    if (r?.status === 200 && token !== undefined) return token;
    await sleep(200);
  }
  throw new Error('auth bench: root never authenticated (the leader creates it once elected)');
}

async function measure(
  ctx: { readonly args: BenchArgs; readonly dir: string; readonly say: (l: string) => void },
  auth: boolean,
  round: number,
): Promise<AuthRow> {
  const { args, say } = ctx;
  const dir = join(ctx.dir, `auth-${auth ? 'on' : 'off'}-${round}`);
  const pwFile = join(ctx.dir, 'root.password');
  writeFileSync(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
  const c = await startLeasekv({
    nodes: 3,
    peerDelayMs: 0,
    dir,
    log: say,
    leaseReads: true,
    ...(auth ? { settings: { auth: true, 'root-password-file': pwFile } } : {}),
  });
  try {
    const leader = await c.leader();
    const headers: Record<string, string> = auth
      ? { authorization: `Bearer ${await tokenFor(leader.clientPort)}` }
      : {};
    const ports = c.members.map((m) => m.clientPort);
    await preload([leader.clientPort, ...ports], args.keys, args.valueBytes, c.put, 32, headers);
    const load = await runLoad({
      port: (await c.leader()).clientPort,
      clients: args.clients,
      durationMs: args.durationS * 1000,
      readFraction: 1,
      keys: args.keys,
      valueBytes: args.valueBytes,
      get: c.get('lease'),
      put: c.put,
      headers,
    });
    const row: AuthRow = {
      auth: auth ? 'on' : 'off',
      round,
      readsPerSec: load.get.totalCount / (load.elapsedMs / 1000),
      p50Ms: load.get.getValueAtPercentile(50) / 1000,
      p99Ms: load.get.getValueAtPercentile(99) / 1000,
      errors: load.errors,
    };
    say(
      `  auth ${row.auth} (round ${round}): ${row.readsPerSec.toFixed(0)} lease reads/s, p50 ${row.p50Ms.toFixed(3)} ms, p99 ${row.p99Ms.toFixed(3)} ms, ${row.errors} errors${load.errors > 0 ? ` (first: ${load.firstError})` : ''}`,
    );
    return row;
  } finally {
    await c.stop();
  }
}

export async function authScenario(ctx: {
  readonly args: BenchArgs;
  readonly dir: string;
  readonly say: (l: string) => void;
}): Promise<AuthRow[]> {
  const rows: AuthRow[] = [];
  for (let round = 1; round <= ROUNDS; round++)
    for (const auth of [false, true]) rows.push(await measure(ctx, auth, round));
  return rows;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * What the check adds to one request on the serving thread, measured in this process (little
 * affected by other load on the machine, unlike the latencies): identify (the cached token) +
 * allowKey, averaged over many calls, in µs.
 */
export function gateCostUs(calls = 200_000): number {
  const t = new AuthTable();
  const h = { salt: 'c2FsdA==', hash: 'aGFzaA==' };
  t.apply({ kind: 'enable', root: h, signingKey: Buffer.alloc(32, 1).toString('base64') });
  t.apply({ kind: 'role-add', name: 'r' });
  for (let i = 0; i < 8; i++) t.apply({ kind: 'role-grant', name: 'r', prefix: `p${i}/`, access: 'read' });
  t.apply({ kind: 'role-grant', name: 'r', prefix: 'bench-', access: 'read' });
  t.apply({ kind: 'user-add', name: 'u', ...h });
  t.apply({ kind: 'user-grant', name: 'u', role: 'r' });
  const gate = new AuthGate({
    table: () => t,
    required: true,
    tokenTtlMs: 600_000,
    authAttemptsPerSec: 20,
    authAttemptsPerSourcePerSec: 5,
  });
  const header = `Bearer ${gate.issue('u').token}`;
  const conn = { remote: '127.0.0.1', clientCert: null, clientCertError: null };
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) allowKey(gate.identify(header, conn), 'bench-00000042', false);
  return ((performance.now() - t0) * 1000) / calls;
}

/** The table and the ratio the target is about (medians over the rounds). */
export function authReport(rows: readonly AuthRow[]): string {
  const lines = ['auth   round  reads/s   p50 ms   p99 ms  errors'];
  for (const r of rows)
    lines.push(
      `${r.auth.padEnd(6)} ${String(r.round).padStart(5)} ${r.readsPerSec.toFixed(0).padStart(9)} ${r.p50Ms.toFixed(3).padStart(8)} ${r.p99Ms.toFixed(3).padStart(8)} ${String(r.errors).padStart(7)}`,
    );
  const p50 = (a: 'on' | 'off'): number => median(rows.filter((r) => r.auth === a).map((r) => r.p50Ms));
  const ratio = p50('on') / p50('off');
  lines.push(
    `lease-read p50, auth on / off: ${ratio.toFixed(2)}× (target ≤ 1.5×: ${ratio <= 1.5 ? 'met' : 'NOT met'})`,
  );
  lines.push(
    `the check per request (token + permission, in-process, a user with 9 prefixes): ${gateCostUs().toFixed(2)} µs`,
  );
  return lines.join('\n');
}
