// The budget of answer bytes being built at once (answer-budget.ts): each call reserves the most its
// answer may hold; one past the budget is refused at once (resource_exhausted), the budget comes
// back when calls end, also when they fail.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { AnswerBudget, rangeReservation, txnReservation } from './answer-budget.ts';
import { resolveLimits } from './limits.ts';

const limits = resolveLimits({ maxResponseBytes: 3 << 20, maxPendingResponseBytes: 8 << 20 });
const range = { prefix: 'p/', limit: 1000, consistency: 'linearizable' as const, maxBytes: 3 << 20 };

describe('answer budget', () => {
  test('reservations: the most an answer may hold, within the per-answer cap', () => {
    const one = 4096 + (1 << 20) + 40;
    assert.equal(rangeReservation(range, limits), 3 << 20);
    assert.equal(rangeReservation({ ...range, limit: 2 }, limits), 2 * one);
    assert.equal(rangeReservation({ ...range, limit: 10, keysOnly: true }, limits), 10 * (4096 + 40));
    assert.equal(rangeReservation({ ...range, countOnly: true }, limits), 0);
    const txn = { compares: [], maxBytes: 3 << 20 };
    assert.equal(txnReservation({ ...txn, success: [{ op: 'put', key: 'k', value: 'v' }], failure: [] }, limits), 0);
    assert.equal(
      txnReservation(
        { ...txn, success: [{ op: 'put', key: 'k', value: 'v' }], failure: [{ op: 'get', key: 'k' }] },
        limits,
      ),
      one,
    );
    assert.equal(
      txnReservation({ ...txn, success: [{ op: 'range', prefix: '', limit: 9 }], failure: [] }, limits),
      3 << 20,
    );
  });

  test('a call past the budget is refused at once; the budget comes back when calls end or fail', async () => {
    const b = new AnswerBudget(8 << 20);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = [b.with(3 << 20, () => gate), b.with(3 << 20, () => gate)];
    assert.equal(b.held, 6 << 20);
    await assert.rejects(
      b.with(3 << 20, async () => 'never'),
      (e: unknown) =>
        e instanceof ConnectError &&
        e.code === Code.ResourceExhausted &&
        /too many answer bytes being built at once.*--max-pending-response-bytes/.test(e.message),
    );
    assert.equal(b.refused, 1);
    assert.equal(await b.with(0, async () => 'free'), 'free'); // count_only, writes: nothing held
    release();
    await Promise.all(held);
    assert.equal(b.held, 0);
    await assert.rejects(
      b.with(5 << 20, async () => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(b.held, 0);
    // Alone, a call bigger than the budget is still admitted (the per-answer cap bounds it).
    assert.equal(await b.with(9 << 20, async () => 'alone'), 'alone');
  });
});
