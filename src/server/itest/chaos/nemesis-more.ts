// The chaos run's faults of the disk, the data dir, the wall clock and the command line
// (docs/chaos.md), each bounded and undone like nemesis.ts's:
//   disk     fill a member's disk (its private tmpfs, disks.ts): its next write fails ENOSPC, and
//            it must stop (docs/storage.md, "Storage errors": exit 1, one log line saying why);
//            it is started once more while the disk is still full (a service manager restarting
//            it) and must stop again the same way; then space is freed and it must serve again
//   corrupt  kill -9 a member, damage its data dir (corrupt.ts: a torn tail it must repair, or a
//            flipped byte, a cut segment or a damaged snapshot it must refuse, naming the file),
//            start it; a refused member is replaced by a spare as docs/storage.md says (remove it,
//            add a new id), or put back as it was when no spare is left
//   clock    jump a member's wall clock 1 min to 30 days forward or back for 2-6 s, then back
//            (clock-offset.cjs): leases and TTLs run on the monotonic clock, so nothing may change
//   upgrade  a rolling restart: each member in turn stopped (SIGTERM) and started with the other
//            of two compatible flag sets (the API on the node's thread or its own, snapshots
//            every 500 entries or the default, drift bound 2 % or 1 %)
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Nemesis } from './args.ts';
import { DAMAGES, damage, refusalProblem } from './corrupt.ts';
import { CHANGE_TIMEOUT_MS, type Fault, type NemesisState } from './state.ts';
import { sleep, waitFor } from '../../../testkit/wait.ts';

const STOP_TIMEOUT_MS = 20_000;
const START_TIMEOUT_MS = 60_000;

/** The other flag set of `upgrade` (the first is none: the run's defaults). */
export const UPGRADE_FLAGS = { 'api-thread': 'off', 'snapshot-threshold': 500, 'max-drift-rate': 0.02 } as const;

function logSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function logSince(path: string, from: number): string {
  try {
    return readFileSync(path).subarray(from).toString('utf8');
  } catch {
    return '';
  }
}

/**
 * Lines of a crash rather than a refusal: a stack trace, an unhandled rejection. (A refusal to start
 * is one plain line, `leasekv serve: could not start: …`, by design.)
 */
function rawLines(log: string): string[] {
  return log
    .split('\n')
    .filter((l) => !l.startsWith('{') && /^\s+at |unhandled|uncaught|node:internal|^\w*Error\b/i.test(l));
}

/** Waits (bounded) until `id` serves or exits: 'serves', or its exit code. */
async function servesOrExits(s: NemesisState, id: string): Promise<'serves' | number | null> {
  const c = s.cluster;
  return waitFor(
    `${id} to serve or exit`,
    START_TIMEOUT_MS,
    async () => {
      if (!c.alive(id)) return { code: (await c.waitExit(id, 1000))?.code ?? null };
      return 'role' in (await c.status(id)) ? 'serves' : undefined;
    },
    { intervalMs: 100 },
  ).then((r) => (r === 'serves' ? r : r.code));
}

/** After a disk error: the member must have stopped with exit code 1 and one line naming ENOSPC. */
function checkStorageStop(s: NemesisState, id: string, code: number | null, log: string, when: string): void {
  if (code !== 1) s.finding(`${id} ${when}: exit code ${code}, not 1`);
  if (!/ENOSPC/.test(log))
    s.finding(`${id} ${when}: no log line names the storage error (ENOSPC); log ends:\n${log.slice(-1500)}`);
  const raw = rawLines(log);
  if (raw.length > 0) s.finding(`${id} ${when}: unstructured output (a crash?):\n${raw.slice(0, 20).join('\n')}`);
}

const disk: Fault = async (s, start) => {
  const disks = s.opts.disks;
  const c = s.cluster;
  if (disks === null) {
    start('', 'no private disks in this run: skipped');
    return;
  }
  const id = await s.victim(0.5);
  if (!c.alive(id)) {
    start(id, 'not running: skipped');
    return;
  }
  const holdMs = s.between(500, 3000);
  start(id, `disk full (ENOSPC) for ${holdMs} ms, started once more while full`);
  const logPath = c.logPath(id);
  const from = logSize(logPath);
  c.expectExit(id, true);
  try {
    disks.fill(id);
    const exit = await c.waitExit(id, STOP_TIMEOUT_MS);
    if (exit === null) {
      s.finding(`${id} still running ${STOP_TIMEOUT_MS} ms after its disk filled (writes reach every member)`);
      await c.kill(id);
    } else checkStorageStop(s, id, exit.code, logSince(logPath, from), 'with a full disk');
    await sleep(holdMs);
    const from2 = logSize(logPath);
    s.restart(id, true);
    const r = await servesOrExits(s, id);
    // It may serve until its first write (a follower with nothing to append), then must stop.
    const code = r === 'serves' ? ((await c.waitExit(id, STOP_TIMEOUT_MS))?.code ?? 'running') : r;
    if (code === 'running') {
      s.finding(`${id} started on a full disk and was still running ${STOP_TIMEOUT_MS} ms later`);
      await c.kill(id);
    } else checkStorageStop(s, id, code, logSince(logPath, from2), 'started on a full disk');
  } finally {
    disks.free(id);
  }
  await s.restartAndWait(id);
};

const corrupt: Fault = async (s, start) => {
  const c = s.cluster;
  const id = await s.victim(0.3);
  const kind = s.pick(DAMAGES);
  await c.kill(id);
  const dir = s.opts.disks?.path(id) ?? c.dataDir(id);
  const d = damage(dir, kind, s.opts.rand);
  start(id, `kill -9; ${d.damage}: ${d.file.split('/').pop()} ${d.detail}; must ${d.expect}`);
  const logPath = c.logPath(id);
  const from = logSize(logPath);
  s.restart(id, true);
  const r = await servesOrExits(s, id);
  const log = logSince(logPath, from);
  if (r === 'serves') {
    c.expectExit(id, false);
    if (d.expect === 'refuse') s.finding(`${id} serves from a damaged data dir (${d.damage}: ${d.detail})`);
    else if (!/torn/.test(log)) s.finding(`${id} repaired a torn tail without logging it`);
    return;
  }
  if (d.expect === 'serve') s.finding(`${id} refused a torn tail (${d.detail}); log ends:\n${log.slice(-1500)}`);
  const problem = refusalProblem(log, r, d);
  if (problem !== null) s.finding(`${id}: ${problem}`);
  if (rawLines(log).length > 0)
    s.finding(`${id}: unstructured output refusing:\n${rawLines(log).slice(0, 20).join('\n')}`);
  await replaceOrRestore(s, id, d.undo);
};

/** docs/storage.md, "How to recover a corrupt node": remove it, add a spare; no spare: restore it. */
async function replaceOrRestore(s: NemesisState, id: string, undo: () => void): Promise<void> {
  const c = s.cluster;
  const spare = s.takeSpare();
  if (spare === null) {
    undo();
    await s.restartAndWait(id);
    return;
  }
  await c.change('MemberRemove', { id }, CHANGE_TIMEOUT_MS);
  s.removed.add(id);
  if (s.activeSpare === id) s.activeSpare = null;
  // A member from the proposal on: if the add's answer is lost, the end of the run still starts it.
  s.replacements.push(spare);
  await c.change(
    'MemberAdd',
    { id: spare, peerAddr: c.peerAddr(spare), clientAddr: c.clientAddr(spare), learner: false },
    CHANGE_TIMEOUT_MS,
  );
  await s.restartAndWait(spare);
}

const clock: Fault = async (s, start) => {
  const dir = s.opts.clockDir;
  if (dir === null) {
    start('', 'no clock offsets in this run: skipped');
    return;
  }
  const id = await s.victim(0.6);
  const sign = s.between(0, 1) === 1 ? 1 : -1;
  const offsetMs = sign * s.between(60_000, 30 * 86_400_000);
  const holdMs = s.between(2000, 6000);
  start(id, `wall clock ${sign > 0 ? '+' : ''}${offsetMs} ms for ${holdMs} ms, then back`);
  const file = join(dir, id);
  writeFileSync(file, String(offsetMs));
  try {
    await sleep(holdMs);
  } finally {
    writeFileSync(file, '0');
  }
  await sleep(200); // read every 100 ms: the jump back has happened
  await s.probe(id);
};

const upgrade: Fault = async (s, start) => {
  const c = s.cluster;
  const order = s.shuffle(s.members().filter((id) => c.alive(id)));
  start(order.join(','), 'rolling restart into the other flag set, one member at a time');
  for (const id of order) {
    if (!c.alive(id) || !s.members().includes(id)) continue;
    const flags = s.opts.flags;
    await c.terminate(id);
    if (flags.has(id)) flags.delete(id);
    else flags.set(id, UPGRADE_FLAGS);
    await s.restartAndWait(id);
  }
};

export const MORE_FAULTS: Readonly<Record<Extract<Nemesis, 'disk' | 'corrupt' | 'clock' | 'upgrade'>, Fault>> = {
  disk,
  corrupt,
  clock,
  upgrade,
};
