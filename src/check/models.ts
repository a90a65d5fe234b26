// Sequential specifications the checker linearizes against (issue 3).
// A model is a pure step function over immutable states. `step` returns undefined when the
// operation, with the output the client saw, is impossible in that state. For an operation whose
// outcome is 'unknown' the output is not known, so every result is acceptable (only its effect on
// the state matters).
import type { CasOutput, GetOutput, HistoryOp } from './history.ts';
import { groupModel, partitionByGroups } from './txn-model.ts';

import type { Model, ModelName, Value } from './model-types.ts';

export type { Model, ModelName, Value } from './model-types.ts';

export function showValue(v: Value): string {
  return v === null ? 'absent' : JSON.stringify(v);
}

function stepKv(state: Value, op: HistoryOp): Value | undefined {
  const known = op.outcome === 'ok';
  switch (op.op) {
    case 'put':
      return op.value ?? '';
    case 'delete':
      return null;
    case 'append':
      return (state ?? '') + (op.value ?? '');
    case 'get': {
      if (!known) return state;
      const out = op.output as GetOutput | undefined;
      if (out === undefined) return undefined;
      const seen: Value = out.found ? (out.value ?? '') : null;
      return seen === state ? state : undefined;
    }
    case 'cas': {
      const matches = state === (op.expected ?? null);
      const next = matches ? (op.value ?? '') : state;
      if (!known) return next;
      const out = op.output as CasOutput | undefined;
      if (out === undefined || out.swapped !== matches) return undefined;
      return next;
    }
    case 'txn':
      // Parts with transactions are checked with the group model (forPart).
      return undefined;
  }
}

function explainKv(state: Value, op: HistoryOp): string | undefined {
  if (stepKv(state, op) !== undefined) return undefined;
  if (op.op === 'get') {
    const out = op.output as GetOutput | undefined;
    const seen: Value = out?.found === true ? (out.value ?? '') : null;
    return `read ${showValue(seen)} but the value was ${showValue(state)}`;
  }
  if (op.op === 'cas') {
    const out = op.output as CasOutput | undefined;
    return `cas reported swapped=${String(out?.swapped)} but the value was ${showValue(state)} (expected ${showValue(op.expected ?? null)})`;
  }
  return 'impossible';
}

/** Per key, unless transactions join keys: then per group of keys (txn-model.ts). */
function byKey(ops: readonly HistoryOp[]): Map<string, HistoryOp[]> {
  if (ops.some((o) => o.op === 'txn')) return partitionByGroups(ops);
  const parts = new Map<string, HistoryOp[]>();
  for (const op of ops) {
    const part = parts.get(op.key);
    if (part === undefined) parts.set(op.key, [op]);
    else part.push(op);
  }
  return parts;
}

/** A map of independent keys, each starting absent: get, put, delete, cas, append. */
export const kvModel: Model = {
  name: 'kv',
  init: null,
  step: stepKv,
  partition: byKey,
  explain: explainKv,
  forPart: (ops) => (ops.some((o) => o.op === 'txn') ? kvGroupModel : kvModel),
};

/** Parts holding a transaction: the map of their keys' values (txn-model.ts). */
const kvGroupModel: Model = groupModel({ name: 'kv', init: null, step: stepKv, partition: byKey, explain: explainKv });

const REGISTER_OPS = new Set(['get', 'put', 'cas']);

/**
 * One compare-and-set register (Jepsen's etcd test): read (= get), write (= put), cas.
 * Keys are ignored: the whole history is one object, so it is not partitioned.
 */
export const registerModel: Model = {
  name: 'register',
  init: null,
  step(state, op) {
    if (!REGISTER_OPS.has(op.op)) return undefined;
    return stepKv(state, op);
  },
  partition(ops) {
    return new Map([['register', [...ops]]]);
  },
  explain(state, op) {
    if (!REGISTER_OPS.has(op.op)) return `a register has no '${op.op}'`;
    return explainKv(state, op);
  },
};

export function modelByName(name: ModelName): Model {
  return name === 'kv' ? kvModel : registerModel;
}
