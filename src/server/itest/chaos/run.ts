// One chaos run (docs/chaos.md): a real process cluster with a proxy on every peer link, the
// register/txn clients of workload.ts on fresh keys every SEGMENT_MS (so that no key's history
// grows past what the checker can search), one set writer (unique keys, for "no acknowledged write
// lost"), and the nemesis, all at once; then heal everything, read every key back through the
// leader, and judge. Writes history.jsonl, events.jsonl and summary.json to its folder.
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatHistoryJsonl, type GetOutput, type HistoryOp } from '../../../check/history.ts';
import { Cluster } from '../harness.ts';
import { LeaderClient } from '../leader-client.ts';
import { acquireClusterLock, type ClusterLock } from '../lock.ts';
import { prng, runWorkload } from '../workload.ts';
import { sleep } from '../../../testkit/wait.ts';
import type { Nemesis } from './args.ts';
import { call } from '../../../testkit/http.ts';
import {
  FINAL_CLIENT,
  PROBE_CLIENT,
  judge,
  SET_CLIENT,
  type Finding,
  type Judgement,
  type RunRecord,
} from './judge.ts';
import { runNemesis, type FaultEvent, type NemesisState } from './nemesis.ts';
import { PrivateDisks } from './disks.ts';
import type { Settings } from '../../../testkit/cluster.ts';
import { fileURLToPath } from 'node:url';

/** The `clock` fault's preload: shifts the member's Date by the offset the nemesis writes. */
const CLOCK_PRELOAD = fileURLToPath(new URL('./clock-offset.cjs', import.meta.url));

export interface RunOptions {
  readonly seed: number;
  readonly durationMs: number;
  readonly nodes: 3 | 5;
  readonly clients: number;
  readonly nemeses: readonly Nemesis[];
  /** These faults once each, in this order (nemesis.ts), instead of seeded picks from `nemeses`. */
  readonly script?: readonly Nemesis[];
  readonly dir: string;
  readonly checkTimeoutMs: number;
  readonly keepData: boolean;
  /** Take the integration tests' cluster lock for the run (not when a test holding it runs this). */
  readonly lock: boolean;
  /** Called with the cluster as soon as it exists (the caller kills it on Ctrl-C). */
  readonly onCluster?: (c: Cluster) => void;
  readonly stopped?: () => boolean;
  /** Log lines as the run goes. */
  readonly say?: (line: string) => void;
}

export interface RunSummary {
  readonly seed: number;
  readonly dir: string;
  readonly ops: Readonly<Record<string, number>>;
  readonly faults: Readonly<Record<string, number>>;
  /** How the probes were answered: ok, or the error code (or network errno). */
  readonly probes: Readonly<Record<string, number>>;
  readonly judgement: Judgement;
  /** Not in summary.json (history.jsonl and events.jsonl hold it). */
  readonly record: RunRecord;
}

const SEGMENT_MS = 10_000;
const CALL_TIMEOUT_MS = 3_000;
const MAX_SET_WRITES = 100_000;
export const RECOVERY_LIMIT_MS = 10_000;
const MAX_NODES = 9;

const nowUs = (): number => Math.round(performance.now() * 1000);

/** The register/txn clients, one segment of fresh keys after another; client ids stay distinct. */
/**
 * Until when the clients run: endAtMs, or with a script (the suite's run) until its last fault is
 * undone too — its faults wait for restarts, which outlast a short workload on a loaded machine.
 */
type ClientsEnd = () => number;

async function registers(c: Cluster, o: RunOptions, endAt: ClientsEnd, keys: string[]): Promise<HistoryOp[]> {
  // keys: every segment's keys so far; the last three are the current segment's (probes read them).
  const endpoints = new Map([...c.ids, ...spareIds(o)].map((id) => [id, c.endpoint(id)]));
  const out: HistoryOp[] = [];
  for (let seg = 0; performance.now() < endAt() - 500 && !(o.stopped?.() ?? false); seg++) {
    const segKeys = ['a', 'b', 'c'].map((k) => `r${seg}${k}`);
    keys.push(...segKeys);
    const ops = await runWorkload({
      endpoints,
      clients: o.clients,
      keys: segKeys,
      durationMs: Math.min(SEGMENT_MS, endAt() - performance.now()),
      maxOpsPerClient: 5_000,
      callTimeoutMs: CALL_TIMEOUT_MS,
      thinkMs: 10,
      seed: o.seed * 1000 + seg,
      txnShare: 0.2,
    });
    out.push(...ops.map((op) => ({ ...op, client: op.client + seg * o.clients })));
  }
  return out;
}

/**
 * One linearizable read of each of the current segment's keys at `id`, all at once; each its own
 * client (PROBE_CLIENT + n). Not-ok answers are `fail` (a read that did not answer observed nothing).
 */
async function probe(
  c: Cluster,
  id: string,
  keys: readonly string[],
  out: HistoryOp[],
  answers: Record<string, number>,
): Promise<void> {
  const ep = c.endpoint(id);
  // Right away, then twice more within the next ~200 ms: the window in which the member may not
  // yet have heard of a newer term.
  const rounds = [0, 50, 150];
  await Promise.all(
    rounds
      .flatMap((lagMs) => keys.slice(-3).map((key) => [lagMs, key] as const))
      .map(async ([lagMs, key]) => {
        await sleep(lagMs);
        const client = PROBE_CLIENT + out.length;
        out.push({ client, op: 'get', key, call: 0, return: 0, outcome: 'fail' }); // holds the id
        const at = out.length - 1;
        const callUs = nowUs();
        const r = await call(ep, 'Get', { key }, CALL_TIMEOUT_MS);
        const ret = Math.max(callUs, nowUs());
        const answer = r.kind === 'ok' ? 'ok' : r.kind === 'error' ? r.code : r.errno;
        answers[answer] = (answers[answer] ?? 0) + 1;
        if (r.kind !== 'ok') out[at] = { client, op: 'get', key, call: callUs, return: ret, outcome: 'fail' };
        else {
          const found = r.body['found'] === true;
          const output: GetOutput = found ? { found, value: String(r.body['value'] ?? '') } : { found };
          out[at] = { client, op: 'get', key, call: callUs, return: ret, outcome: 'ok', output };
        }
      }),
  );
}

/** Unique keys, each written once with a session (retries apply once), through the leader. */
async function setWriter(c: Cluster, o: RunOptions, endAt: ClientsEnd): Promise<HistoryOp[]> {
  const ids = [...c.ids, ...spareIds(o)];
  const client = new LeaderClient(new Map(ids.map((id) => [id, c.endpoint(id)])), CALL_TIMEOUT_MS);
  const out: HistoryOp[] = [];
  for (let n = 0; n < MAX_SET_WRITES && performance.now() < endAt() && !(o.stopped?.() ?? false); n++) {
    const key = `set/${n}`;
    const value = `s${o.seed}.${n}`;
    const call = nowUs();
    const attempts = await client.untilOk('Put', { key, value, clientId: `chaos-set-${o.seed}`, seq: n + 1 }, 5000);
    const ok = attempts[attempts.length - 1]?.result.kind === 'ok';
    out.push({
      client: SET_CLIENT,
      op: 'put',
      key,
      value,
      call,
      return: ok ? nowUs() : null,
      outcome: ok ? 'ok' : 'unknown',
    });
    await sleep(40);
  }
  return out;
}

/** Reads every key back through the leader (bounded), as ok gets of one last client. */
async function finalReads(
  c: Cluster,
  ids: readonly string[],
  keys: readonly string[],
): Promise<Map<string, HistoryOp | null>> {
  const client = new LeaderClient(new Map(ids.map((id) => [id, c.endpoint(id)])), CALL_TIMEOUT_MS);
  const out = new Map<string, HistoryOp | null>();
  const queue = [...keys];
  const reader = async (): Promise<void> => {
    for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
      const call = nowUs();
      const attempts = await client.untilOk('Get', { key }, 10_000);
      const r = attempts[attempts.length - 1]?.result;
      if (r?.kind !== 'ok') {
        out.set(key, null);
        continue;
      }
      const found = r.body['found'] === true;
      const output: GetOutput = found ? { found, value: String(r.body['value'] ?? '') } : { found };
      out.set(key, { client: FINAL_CLIENT, op: 'get', key, call, return: nowUs(), outcome: 'ok', output });
    }
  };
  await Promise.all(Array.from({ length: 4 }, reader));
  return out;
}

function spareIds(o: RunOptions): string[] {
  return Array.from({ length: MAX_NODES - o.nodes }, (_, i) => `n${o.nodes + i + 1}`);
}

/** Undoes whatever may be left (a fault cut short), starts the members that are down, waits for a leader. */
async function healAll(c: Cluster, state: NemesisState, observed: Finding[]): Promise<void> {
  c.heal();
  c.setDelayMs(0);
  const members = state.members();
  for (const id of members) {
    c.resume(id);
    if (!c.alive(id)) state.restart(id);
  }
  try {
    await c.waitForLeader(60_000, members);
  } catch (e) {
    observed.push({ kind: 'stuck', detail: `after healing everything: ${(e as Error).message}` });
  }
}

export async function runChaos(o: RunOptions): Promise<RunSummary> {
  const t0 = performance.now();
  const say = (line: string): void => o.say?.(`[${((performance.now() - t0) / 1000).toFixed(1)} s] ${line}`);
  mkdirSync(o.dir, { recursive: true });
  let lock: ClusterLock | null = o.lock ? await acquireClusterLock(30 * 60_000) : null;
  const events: FaultEvent[] = [];
  const observed: Finding[] = [];
  const keys: string[] = [];
  let history: HistoryOp[] = [];
  const probes: HistoryOp[] = [];
  const probeAnswers: Record<string, number> = {};
  let finalReadsDone = false;
  const clusterDir = join(o.dir, 'cluster');
  const allIds = [...Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`), ...spareIds(o)];
  const disks = o.nemeses.includes('disk')
    ? await PrivateDisks.make(new Map(allIds.map((id) => [id, join(clusterDir, id)])))
    : null;
  const clockDir = o.nemeses.includes('clock') ? join(o.dir, 'clock') : null;
  if (clockDir !== null) mkdirSync(clockDir, { recursive: true });
  const flags = new Map<string, Settings>();
  let c: Cluster;
  try {
    c = await Cluster.start({
      name: 'chaos',
      dir: clusterDir,
      size: o.nodes,
      spare: MAX_NODES - o.nodes,
      proxies: true,
      settings: (id) => flags.get(id) ?? {},
      ...(disks === null ? {} : { launcher: (id: string) => disks.launcher(id) }),
      ...(clockDir === null ? {} : { nodeArgs: ['--require', CLOCK_PRELOAD], env: { CHAOS_CLOCK_DIR: clockDir } }),
    });
  } catch (e) {
    disks?.close();
    lock?.release();
    throw e;
  }
  o.onCluster?.(c);
  let startUs = 0;
  let endUs = 0;
  try {
    // 180 s: at load 25 five members took over 60 s to start (seed 601, session 13).
    await c.waitForLeader(180_000);
    say(`seed ${o.seed}: cluster up in ${c.dir}`);
    startUs = nowUs();
    const endAtMs = performance.now() + o.durationMs;
    const nemesis = runNemesis({
      cluster: c,
      mix: o.nemeses,
      rand: prng(o.seed),
      endAtMs,
      spares: spareIds(o),
      stopped: () => o.stopped?.() ?? false,
      probe: (id) => probe(c, id, keys, probes, probeAnswers),
      disks,
      clockDir,
      flags,
      ...(o.script === undefined ? {} : { script: o.script }),
      log: (e) => {
        events.push(e);
        say(`  ${((e.atUs - startUs) / 1e6).toFixed(1)} s ${e.kind} #${e.n} ${e.phase} ${e.target} ${e.detail}`);
      },
    });
    // The workload ends when the clients stop, not when the nemesis does: its last fault may still
    // be waiting for a restarted member after the clients stopped, and that wait, with no client
    // left to succeed, was judged stuck (seed 300, session 13).
    let scriptDone = o.script === undefined;
    void nemesis.finally(() => (scriptDone = true));
    // A segment of 2 s at a time past endAtMs while a script's last fault is still in force.
    const endAt = (): number => (scriptDone ? endAtMs : Math.max(endAtMs, performance.now() + 2000));
    const clients = Promise.all([registers(c, o, endAt, keys), setWriter(c, o, endAt)]).then((r) => {
      endUs = nowUs();
      return r;
    });
    const [[regs, sets], state] = await Promise.all([clients, nemesis]);
    const members = state.members();
    say(`seed ${o.seed}: workload done; healing`);
    await healAll(c, state, observed);
    say(`seed ${o.seed}: healed; reading every key back`);
    const crash = c.crashed();
    if (crash !== undefined) observed.push({ kind: 'crash', detail: crash });
    const setKeys = sets.map((s) => s.key);
    const reads = observed.some((f) => f.kind === 'stuck')
      ? new Map()
      : await finalReads(c, members, [...keys, ...setKeys]);
    finalReadsDone = reads.size > 0;
    history = [...regs, ...sets, ...probes, ...[...reads.values()].filter((x): x is HistoryOp => x !== null)];
    const crashAfter = c.crashed();
    if (crash === undefined && crashAfter !== undefined) observed.push({ kind: 'crash', detail: crashAfter });
  } finally {
    await c.close(true);
    lock?.release();
    lock = null;
  }
  writeFileSync(join(o.dir, 'history.jsonl'), formatHistoryJsonl(history));
  writeFileSync(join(o.dir, 'events.jsonl'), events.map((e) => JSON.stringify(e) + '\n').join(''));
  say(`seed ${o.seed}: checking ${history.length} operations`);
  const judged = performance.now();
  const record: RunRecord = { history, events, startUs, endUs, finalReads: finalReadsDone, observed };
  const judgement = await judge(record, { checkTimeoutMs: o.checkTimeoutMs, recoveryLimitMs: RECOVERY_LIMIT_MS });
  say(`seed ${o.seed}: checked in ${Math.round(performance.now() - judged)} ms`);
  const count = (xs: readonly string[]): Record<string, number> =>
    xs.reduce<Record<string, number>>((m, x) => ({ ...m, [x]: (m[x] ?? 0) + 1 }), {});
  const summary: RunSummary = {
    seed: o.seed,
    dir: o.dir,
    ops: count(history.map((x) => `${x.client >= PROBE_CLIENT ? 'probe-' : ''}${x.op}:${x.outcome}`)),
    faults: count(events.filter((e) => e.phase === 'start').map((e) => e.kind)),
    probes: probeAnswers,
    judgement,
    record,
  };
  const json = { ...summary, record: undefined, workloadUs: [startUs, endUs] };
  writeFileSync(join(o.dir, 'summary.json'), JSON.stringify(json, null, 1));
  if (disks !== null) {
    // The data dirs live in the members' namespaces: copied out to be kept, then the tmpfs go.
    if (judgement.findings.length > 0 || o.keepData) disks.copyOut();
    disks.close();
  }
  if (judgement.findings.length === 0 && !o.keepData) removeDataDirs(c.dir);
  return summary;
}

/** The nodes' data dirs go after a clean run (the logs stay). */
function removeDataDirs(clusterDir: string): void {
  for (const name of readdirSync(clusterDir)) {
    const p = join(clusterDir, name);
    if (statSync(p).isDirectory()) rmSync(p, { recursive: true, force: true });
  }
}
