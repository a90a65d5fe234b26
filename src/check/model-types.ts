// The model interface (models.ts has the models; txn-model.ts lifts one to groups of keys).
import type { HistoryOp } from './history.ts';

/** State of one key / one register: its value, or null when absent. */
export type Value = string | null;

export interface Model {
  readonly name: ModelName;
  readonly init: Value;
  step(state: Value, op: HistoryOp): Value | undefined;
  /** Splits a history into independently checkable parts (P-compositionality). */
  partition(ops: readonly HistoryOp[]): Map<string, HistoryOp[]>;
  /** Why `op` cannot be applied in `state` (for reports), or undefined if it can. */
  explain(state: Value, op: HistoryOp): string | undefined;
  /** The model one part (from partition) is checked with, when it is not this one. */
  forPart?(ops: readonly HistoryOp[]): Model;
}

export type ModelName = 'kv' | 'register';
