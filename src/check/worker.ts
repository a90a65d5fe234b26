// Worker-thread entry: checks a group of parts, interleaved, and posts the outcomes back.
// The parent (parallel.ts) terminates the worker when another group found a violation or the
// budget is over, so this code needs no cancellation of its own beyond its deadline.
import { parentPort, workerData } from 'node:worker_threads';
import type { HistoryOp } from './history.ts';
import { runInterleaved } from './checker.ts';
import { modelByName, type ModelName } from './models.ts';

export interface WorkerInput {
  readonly model: ModelName;
  readonly parts: readonly (readonly [string, readonly HistoryOp[]])[];
  /**
   * The deadline as wall-clock epoch ms: performance.now() has a per-thread origin, and a worker
   * may take a second to start, which must come out of the budget, not be added to it.
   */
  readonly deadlineEpochMs: number;
  readonly maxCachedStates: number;
}

const input = workerData as WorkerInput;
const deadlineMs = performance.now() + (input.deadlineEpochMs - Date.now());
const outcomes = runInterleaved(modelByName(input.model), input.parts, deadlineMs, input.maxCachedStates);
parentPort?.postMessage(outcomes);
