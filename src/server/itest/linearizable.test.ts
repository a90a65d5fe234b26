// Real processes, test 6: six concurrent clients do puts, linearizable gets, cas and multi-key
// transactions (issue 14) on three keys while the leader is killed (kill -9) and later restarted. The recorded history — unknown outcomes
// for timeouts and lost connections — must be linearizable according to the checker (src/check).
// The same history with one read's value falsified must NOT be, which shows the check can fail.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { checkHistorySync } from '../../check/checker.ts';
import {
  formatHistoryJsonl,
  type GetOutput,
  type HistoryOp,
  type TxnOutput,
  type TxnSpec,
} from '../../check/history.ts';
import { holdClusterLock, withCluster } from './harness.ts';
import { sleep } from '../../testkit/wait.ts';
import { runWorkload } from './workload.ts';

holdClusterLock({ before, after });

const DURATION_MS = 10_000;
const CHECK_BUDGET_MS = 60_000;

function summary(ops: readonly HistoryOp[]): string {
  const by = (f: (o: HistoryOp) => boolean): number => ops.filter(f).length;
  return `${ops.length} ops: ${by((o) => o.outcome === 'ok')} ok, ${by((o) => o.outcome === 'fail')} fail, ${by((o) => o.outcome === 'unknown')} unknown; ${by((o) => o.op === 'get' && o.outcome === 'ok')} ok reads, ${by((o) => o.op === 'txn' && o.outcome === 'ok')} ok txns`;
}

test('concurrent clients across a leader kill: the history is linearizable', async (t) => {
  await withCluster(t, { name: 'linearizable' }, async (c) => {
    await c.waitForLeader();
    const endpoints = new Map(c.ids.map((id) => [id, c.endpoint(id)]));
    const faults = (async () => {
      await sleep(DURATION_MS * 0.3);
      const victim = await c.waitForLeader(10_000);
      await c.kill(victim);
      t.diagnostic(`killed leader ${victim} at ${DURATION_MS * 0.3} ms`);
      await sleep(DURATION_MS * 0.35);
      c.startNode(victim);
    })();
    const history = await runWorkload({
      endpoints,
      clients: 6,
      keys: ['a', 'b', 'c'],
      durationMs: DURATION_MS,
      maxOpsPerClient: 200,
      callTimeoutMs: 3000,
      thinkMs: 5,
      seed: 6,
      txnShare: 0.2,
    });
    await faults;
    const file = join(c.dir, 'history.jsonl');
    writeFileSync(file, formatHistoryJsonl(history));
    t.diagnostic(`${summary(history)} (${file} is kept if the test fails)`);
    assert.ok(
      history.filter((o) => o.op === 'get' && o.outcome === 'ok').length >= 20,
      `too few successful reads to mean anything: ${summary(history)}`,
    );
    assert.ok(
      history.filter((o) => o.op === 'txn' && o.outcome === 'ok').length >= 10,
      `too few successful transactions to mean anything: ${summary(history)}`,
    );

    const verdict = checkHistorySync(history, { timeoutMs: CHECK_BUDGET_MS });
    t.diagnostic(
      `checker: ${verdict.verdict} in ${Math.round(verdict.elapsedMs)} ms (${verdict.opsChecked} ops, ${verdict.parts} keys)`,
    );
    assert.equal(
      verdict.verdict,
      'linearizable',
      JSON.stringify(verdict.violation ?? verdict.undecided, null, 1).slice(0, 4000),
    );

    // Falsify one successful read that saw a value: the checker must now reject the history.
    const i = history.findIndex(
      (o) => o.op === 'get' && o.outcome === 'ok' && o.output !== undefined && 'found' in o.output && o.output.found,
    );
    assert.ok(i >= 0, 'the history has a read that found a value');
    const broken = history.map((o, j) => (j === i ? { ...o, output: { found: true, value: 'never-written' } } : o));
    assert.equal(checkHistorySync(broken, { timeoutMs: CHECK_BUDGET_MS }).verdict, 'not-linearizable');

    // Tear one successful transaction whose second write someone later read: keep its first write,
    // replace the second. That reader's observation now has no writer: the checker must reject.
    const seenAt = (o: HistoryOp, key: string, value: string): boolean => {
      if (o.outcome !== 'ok') return false;
      if (o.op === 'get')
        return o.key === key && (o.output as GetOutput).found && (o.output as GetOutput).value === value;
      if (o.op !== 'txn' || o.txn === undefined) return false;
      const out = o.output as TxnOutput;
      return (out.succeeded ? o.txn.success : o.txn.failure).some(
        (s, k) => s.op === 'get' && s.key === key && out.results[k]?.value === value,
      );
    };
    const ti = history.findIndex((o) => {
      if (o.op !== 'txn' || o.outcome !== 'ok' || o.txn === undefined || !(o.output as TxnOutput).succeeded)
        return false;
      const second = o.txn.success[1];
      return second?.op === 'put' && history.some((r) => r !== o && seenAt(r, second.key, second.value));
    });
    t.diagnostic(`a transaction whose second write was read: ${ti >= 0 ? `#${ti}` : 'none in this run'}`);
    if (ti >= 0) {
      const op = history[ti] as HistoryOp & { txn: TxnSpec };
      const tornTxn: TxnSpec = {
        ...op.txn,
        success: op.txn.success.map((s, k) => (k === 1 && s.op === 'put' ? { ...s, value: 'torn-away' } : s)),
      };
      const torn = history.map((o, j) => (j === ti ? { ...op, txn: tornTxn } : o));
      assert.equal(checkHistorySync(torn, { timeoutMs: CHECK_BUDGET_MS }).verdict, 'not-linearizable');
    }
  });
});
