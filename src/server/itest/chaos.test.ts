// The chaos run (docs/chaos.md) in the suite: one short seed on real processes with every kind of
// fault must end without a finding; and the judge must fail that same record once it is falsified
// (a read that saw a value no one wrote, an acknowledged write gone at the end) and a record with a
// stuck period — a check that cannot fail is worth nothing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { GetOutput, HistoryOp } from '../../check/history.ts';
import { holdClusterLock } from './harness.ts';
import { NEMESES } from './chaos/args.ts';
import { FINAL_CLIENT, judge, quietWindows, SET_CLIENT, type RunRecord } from './chaos/judge.ts';
import { RECOVERY_LIMIT_MS, runChaos } from './chaos/run.ts';

holdClusterLock({ before, after });

const judgeOpts = { checkTimeoutMs: 60_000, recoveryLimitMs: RECOVERY_LIMIT_MS };

test('a short chaos run on real processes (faults drawn from every kind) has no finding; falsified, it has', async (t) => {
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
    nemeses: NEMESES,
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
  // A fault lasts until a stopped node serves again: 5-10 s each under load, so few fit in 20 s.
  assert.ok(Object.values(s.faults).reduce((a, b) => a + b, 0) >= 2, `too few faults: ${JSON.stringify(s.faults)}`);
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

test('the judge calls a quiet period without one successful operation stuck, and a nemesis error a finding', async () => {
  const op = (client: number, call: number, ret: number): HistoryOp => ({
    client,
    op: 'put',
    key: 'k',
    value: `v${client}`,
    call,
    return: ret,
    outcome: 'ok',
  });
  const base: RunRecord = {
    history: [op(1, 1_000_000, 1_100_000), op(2, 31_000_000, 31_100_000)],
    events: [
      { n: 1, atUs: 1_200_000, kind: 'partition', phase: 'start', target: 'n1', detail: '' },
      { n: 1, atUs: 2_000_000, kind: 'partition', phase: 'end', target: '', detail: '' },
    ],
    startUs: 0,
    endUs: 40_000_000,
    finalReads: true,
    observed: [],
  };
  const stuck = await judge(base, judgeOpts);
  assert.deepEqual(
    stuck.findings.map((f) => f.kind),
    ['stuck'],
  );
  // The same quiet period with an operation 3 s after the heal: recovered in 3 s, no finding.
  const fine = await judge({ ...base, history: [...base.history, op(3, 4_900_000, 5_000_000)] }, judgeOpts);
  assert.deepEqual(fine.findings, []);
  assert.equal(fine.maxRecoveryMs, 3000);
  const hung = await judge(
    {
      ...base,
      history: [...base.history, op(3, 4_900_000, 5_000_000)],
      events: [
        ...base.events,
        { n: 2, atUs: 3_000_000, kind: 'member', phase: 'error', target: '', detail: 'timed out' },
      ],
    },
    judgeOpts,
  );
  assert.deepEqual(
    hung.findings.map((f) => f.kind),
    ['nemesis'],
  );
});

test('quiet windows are the gaps between overlapping faults (a combo), up to the end of the workload', () => {
  const ev = (n: number, atUs: number, phase: 'start' | 'end' | 'error'): RunRecord['events'][number] => ({
    n,
    atUs,
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
