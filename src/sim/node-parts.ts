// Small parts of a simulated node process (node.ts): its request errors and a periodic timer on
// its drifting clock.
import type { NodeId } from '../raft/types.ts';
import type { NodeClock } from './clock.ts';

/**
 * Why a simulated request failed: definitely not applied, or outcome unknown. An Error in shape
 * only: capturing a stack for each of the many refusals a run makes would cost more than the run.
 */
export class SimError implements Error {
  readonly name = 'SimError';
  readonly message: string;
  constructor(
    readonly kind: 'not-leader' | 'lost' | 'unknown' | 'unavailable' | 'not-found',
    readonly hint: NodeId | null = null,
  ) {
    this.message = kind;
  }
}

/**
 * Calls `fn` (inside the process, via `run`) every `ms` of the node's clock while `alive()` holds
 * (the process has not crashed); returns the function that stops it. The watch hub's progress
 * timer (the server's setInterval).
 */
export function everyMs(
  clock: NodeClock,
  world: { readonly nowUs: number; after(us: number, fn: () => void): void },
  alive: () => boolean,
  run: (fn: () => void) => void,
  fn: () => void,
  ms: number,
): () => void {
  let stopped = false;
  const tick = (): void => {
    const atUs = Math.max(clock.trueUsAt(clock.localMs(world.nowUs) + ms), world.nowUs + 1);
    world.after(atUs - world.nowUs, () => {
      if (stopped || !alive()) return;
      run(fn);
      tick();
    });
  };
  tick();
  return () => {
    stopped = true;
  };
}
