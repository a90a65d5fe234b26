// The chaos run (docs/chaos.md) in the suite: one short seed on real processes must end without a
// finding — a scripted one, so that the faults a seeded draw might miss in 20 s run every time: a
// member's disk fills up (needs root), a data dir is damaged, a wall clock jumps, a leader pauses,
// a member is cut off; and the judge must fail that same record once it is falsified (a read that
// saw a value no one wrote, an acknowledged write gone at the end) and a record with a stuck
// period — a check that cannot fail is worth nothing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { GetOutput, HistoryOp } from '../../check/history.ts';
import { holdClusterLock } from './harness.ts';
import type { Nemesis } from './chaos/args.ts';
import { FINAL_CLIENT, judge, quietWindows, SET_CLIENT, type RunRecord } from './chaos/judge.ts';
import { RECOVERY_LIMIT_MS, runChaos } from './chaos/run.ts';
import { privateDisksUnavailable } from './chaos/disks.ts';

holdClusterLock({ before, after });

const judgeOpts = { checkTimeoutMs: 60_000, recoveryLimitMs: RECOVERY_LIMIT_MS };

test('a short chaos run on real processes (disk, corrupt, clock, pause, partition) has no finding; falsified, it has', async (t) => {
  const noDisks = privateDisksUnavailable();
  if (noDisks !== null) t.diagnostic(`no disk fault: it ${noDisks}`);
  // Once each, whatever the seed draws; the faults that wait for restarts first.
  const script: Nemesis[] = [
    ...(noDisks === null ? (['disk'] as const) : []),
    'corrupt',
    'clock',
    'pause',
    'partition',
  ];
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-test-chaos-'));
  let keep = true;
  t.after(() => {
    if (!keep && process.env['LEASEKV_ITEST_KEEP'] !== '1') rmSync(dir, { recursive: true, force: true });
  });
  const s = await runChaos({
    seed: 7,
    durationMs: 20_000,
    nodes: 3,
    clients: 4,
    nemeses: script,
    script,
    dir,
    checkTimeoutMs: 60_000,
    keepData: false,
    lock: false, // this file holds it
    say: (l) => t.diagnostic(l),
  });
  const j = s.judgement;
  t.diagnostic(`ops ${JSON.stringify(s.ops)}; faults ${JSON.stringify(s.faults)}; max recovery ${j.maxRecoveryMs} ms`);
  assert.deepEqual(j.findings, [], `findings (folder ${dir} kept)`);
  assert.equal(j.check.verdict, 'linearizable');
  const ok = (op: string): number => s.ops[`${op}:ok`] ?? 0;
  assert.ok(
    ok('get') >= 50 && ok('put') >= 50 && ok('txn') >= 10,
    `too few successful operations: ${JSON.stringify(s.ops)}`,
  );
  assert.ok(j.setAcked >= 20, `too few set writes acknowledged: ${j.setAcked}`);
  const started = s.record.events.filter((e) => e.phase === 'start');
  assert.deepEqual(
    started.map((e) => e.kind),
    script,
    `faults: ${started.map((e) => `${e.kind} ${e.target} ${e.detail}`).join('; ')}`,
  );
  assert.ok(!started.some((e) => /skipped/.test(e.detail)), started.map((e) => e.detail).join('; '));
  // The workload ends when the clients stop (not when the nemesis's last fault does: seed 300).
  const lastCall = Math.max(...s.record.history.filter((o) => o.client < SET_CLIENT).map((o) => o.call));
  assert.ok(s.record.endUs - lastCall < 10_000_000, `workload end ${s.record.endUs} µs, last call ${lastCall} µs`);
  keep = false;

  // An acknowledged set write read back as absent: a lost write (and a history with no linearization).
  const h = s.record.history;
  const acked = h.find((o) => o.client === SET_CLIENT && o.outcome === 'ok') as HistoryOp;
  const lost = h.map((o) =>
    o.client === FINAL_CLIENT && o.key === acked.key ? { ...o, output: { found: false } satisfies GetOutput } : o,
  );
  const kinds = (await judge({ ...s.record, history: lost }, judgeOpts)).findings.map((f) => f.kind);
  assert.ok(kinds.includes('lost-write') && kinds.includes('not-linearizable'), kinds.join(','));

  // A client read that saw a value no one wrote.
  const i = h.findIndex((o) => o.client < SET_CLIENT && o.op === 'get' && o.outcome === 'ok');
  const stale = h.map((o, k) => (k === i ? { ...o, output: { found: true, value: 'never-written' } } : o));
  const bad = await judge({ ...s.record, history: stale }, judgeOpts);
  assert.deepEqual(
    bad.findings.map((f) => f.kind),
    ['not-linearizable'],
  );
});

test('the judge calls 10 s without a successful operation stuck unless a combo was in force, and a nemesis error a finding', async () => {
  const op = (client: number, call: number, ret: number): HistoryOp => ({
    client,
    op: 'put',
    key: 'k',
    value: `v${client}`,
    call,
    return: ret,
    outcome: 'ok',
  });
  const fault = (n: number, kind: Nemesis, fromUs: number, toUs: number): RunRecord['events'] => [
    { n, atUs: fromUs, wallMs: 0, kind, phase: 'start', target: 'n1', detail: '' },
    { n, atUs: toUs, wallMs: 0, kind, phase: 'end', target: '', detail: '' },
  ];
  // Nothing succeeds from 1.1 s to 11.9 s, while one member is cut off from 1.2 s to 2 s.
  const base: RunRecord = {
    history: [op(1, 1_000_000, 1_100_000), op(2, 11_800_000, 11_900_000)],
    events: fault(1, 'partition', 1_200_000, 2_000_000),
    startUs: 0,
    endUs: 12_000_000,
    finalReads: true,
    observed: [],
  };
  const kinds = async (r: RunRecord): Promise<string[]> => (await judge(r, judgeOpts)).findings.map((f) => f.kind);
  assert.deepEqual(await kinds(base), ['stuck']);
  // An operation 3 s after the heal: recovered in 3 s, no gap over 10 s.
  const fine = await judge({ ...base, history: [...base.history, op(3, 4_900_000, 5_000_000)] }, judgeOpts);
  assert.deepEqual(fine.findings, []);
  assert.equal(fine.maxRecoveryMs, 3000);
  // Two faults at once (a combo) may stop a majority: the same gap is no finding.
  assert.deepEqual(await kinds({ ...base, events: [...base.events, ...fault(2, 'combo', 1_500_000, 9_000_000)] }), []);
  const hung = {
    ...base,
    history: [...base.history, op(3, 4_900_000, 5_000_000)],
    events: [
      ...base.events,
      { n: 2, atUs: 3_000_000, wallMs: 0, kind: 'member', phase: 'error', target: '', detail: 'timed out' } as const,
    ],
  };
  assert.deepEqual(await kinds(hung), ['nemesis']);
});

test('quiet windows are the gaps between overlapping faults (a combo), up to the end of the workload', () => {
  const ev = (n: number, atUs: number, phase: 'start' | 'end' | 'error'): RunRecord['events'][number] => ({
    n,
    atUs,
    wallMs: 0,
    kind: 'kill',
    phase,
    target: '',
    detail: '',
  });
  const r: RunRecord = {
    history: [],
    events: [
      ev(1, 10, 'start'),
      ev(2, 20, 'start'),
      ev(1, 30, 'end'),
      ev(2, 50, 'error'),
      ev(3, 70, 'start'),
      ev(3, 80, 'end'),
    ],
    startUs: 0,
    endUs: 100,
    finalReads: true,
    observed: [],
  };
  assert.deepEqual(quietWindows(r), [
    [50, 70],
    [80, 100],
  ]);
});
