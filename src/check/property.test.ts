// Property tests (issue 3): histories made from a sequential execution of the KV model, with each
// operation's interval stretched around its linearization point, are linearizable; changing one
// read to a value that cannot be current anywhere in its interval makes them not linearizable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkHistorySync } from './checker.ts';
import type { HistoryOp, OpKind, Outcome } from './history.ts';
import { kvModel, type Value } from './models.ts';

const KEYS = ['a', 'b', 'c'];
const SPACING = 10;

interface Plan {
  readonly kind: OpKind;
  readonly key: number;
  readonly before: number;
  readonly after: number;
  readonly outcome: 'ok' | 'unknown' | 'fail';
  readonly expectCurrent: boolean;
}

const planArb: fc.Arbitrary<Plan> = fc.record({
  kind: fc.constantFrom<OpKind>('get', 'get', 'put', 'append', 'cas', 'delete'),
  key: fc.nat({ max: KEYS.length - 1 }),
  before: fc.nat({ max: 4 * SPACING }),
  after: fc.nat({ max: 4 * SPACING }),
  outcome: fc.constantFrom<Plan['outcome']>('ok', 'ok', 'ok', 'ok', 'unknown', 'fail'),
  expectCurrent: fc.boolean(),
});

/**
 * Runs the plans in order against the model: op i takes effect at time SPACING*(i+1), inside
 * [call, return]. Values are unique per writing op ("<p3>"), so a read can be pinned to its writer.
 * A 'fail' op is recorded but not applied; an 'unknown' op is applied (it took effect).
 */
function execute(plans: readonly Plan[]): HistoryOp[] {
  const state = new Map<string, Value>();
  return plans.map((p, i) => {
    const key = KEYS[p.key] as string;
    const cur = state.get(key) ?? null;
    const at = SPACING * (i + 1);
    const outcome: Outcome = p.kind === 'get' && p.outcome === 'unknown' ? 'ok' : p.outcome;
    const base = {
      client: i,
      op: p.kind,
      key,
      call: Math.max(0, at - p.before),
      return: outcome === 'unknown' ? null : at + p.after,
      outcome,
    };
    let op: HistoryOp;
    if (p.kind === 'get') op = { ...base, output: cur === null ? { found: false } : { found: true, value: cur } };
    else if (p.kind === 'cas') {
      const expected = p.expectCurrent ? cur : `<x${i}>`;
      op = {
        ...base,
        expected,
        value: `<c${i}>`,
        ...(outcome === 'ok' ? { output: { swapped: expected === cur } } : {}),
      };
    } else if (p.kind === 'delete') op = base;
    else op = { ...base, value: `<${p.kind === 'put' ? 'p' : 'a'}${i}>` };
    if (outcome !== 'fail') {
      const next = kvModel.step(cur, op);
      assert.ok(next !== undefined, 'the generator must follow the model');
      state.set(key, next);
    }
    return op;
  });
}

const historyArb = fc.array(planArb, { minLength: 1, maxLength: 30 }).map(execute);

test('property: histories from a sequential execution with random overlap are linearizable', () => {
  fc.assert(
    fc.property(historyArb, (ops) => {
      assert.equal(checkHistorySync(ops, { timeoutMs: 10_000 }).verdict, 'linearizable');
    }),
    { numRuns: 300, seed: 0x1ea5e },
  );
});

/**
 * A value no linearization can show during the read's interval: one written (put/cas new value)
 * only by an operation invoked after the read returned, or one never written at all.
 */
function impossibleValues(ops: readonly HistoryOp[], read: HistoryOp): string[] {
  const later = ops.filter(
    (o) => (o.op === 'put' || o.op === 'cas') && o.call > (read.return ?? Infinity) && o.key === read.key,
  );
  return [...later.map((o) => o.value as string), '<never-written>'];
}

test('property: one read changed to a value never current in its interval is always rejected', () => {
  const arb = historyArb
    .filter((ops) => ops.some((o) => o.op === 'get' && o.outcome === 'ok'))
    .chain((ops) => {
      const reads = ops.map((o, i) => [o, i] as const).filter(([o]) => o.op === 'get' && o.outcome === 'ok');
      return fc
        .constantFrom(...reads)
        .chain(([read, i]) => fc.constantFrom(...impossibleValues(ops, read)).map((value) => ({ ops, i, value })));
    });
  fc.assert(
    fc.property(arb, ({ ops, i, value }) => {
      const mutated = ops.map((o, j) => (j === i ? { ...o, output: { found: true, value } } : o));
      const r = checkHistorySync(mutated, { timeoutMs: 10_000 });
      assert.equal(r.verdict, 'not-linearizable');
      assert.equal(r.violation?.key, ops[i]?.key);
    }),
    { numRuns: 300, seed: 0xbad },
  );
});
