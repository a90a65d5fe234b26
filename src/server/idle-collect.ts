// A compacting, memory-reducing garbage collection once a thread goes idle after heavy work (issue
// 16): the node thread's and the client API thread's settings of the policy in util/idle-collect.ts.
// After a load, V8 keeps each heap at the size the load grew it to — tens of MiB of old space over
// what is live on the node thread, up to ~45 MiB on the leader's client API thread
// (docs/benchmarks.md, "Issue 16, session 7: steady-state memory") — and dead Buffers allocated: a
// thread that allocates little does not collect, and V8's memory-reducing collection does not move
// the survivors scattered over the heap's pages, so those pages stay (storage/release_memory.ts).
// The collection compacts: a pause of tens of ms on this thread, never under load.
import { collectGarbage } from '../storage/release_memory.ts';
import { countedWork, startIdleCollect, type IdleCollectOptions } from '../util/idle-collect.ts';

export {
  IdleCollectPolicy,
  LOOP_BUSY_MS,
  countedWork,
  startIdleCollect,
  type IdleCollectOptions,
  type WorkMeter,
} from '../util/idle-collect.ts';

/**
 * The node thread's work: entries applied plus client requests it served. Counted, not timed: on
 * an oversubscribed machine a member's heartbeats alone kept its event loop more than 15 % busy in
 * wall time (a callback preempted by other processes counts for as long as it waits), and with
 * the loop's utilization as the measure no member of a million-key run at load ~26 collected until
 * it lost its leader, ~20 s after the load (docs/benchmarks.md, "Issue 16, session 6").
 * A gap of 10 s: a collection in a quiet second during a load (an election, a stall) leaves the
 * one after the load at most 10 s late; a pause of ~50 ms at most every 10 s otherwise.
 */
export const NODE_IDLE_COLLECT: IdleCollectOptions = {
  checkIntervalMs: 1000,
  quietWork: 10, // a few status calls or writes a second
  minGrowthBytes: 8 * 2 ** 20,
  minGapMs: 10_000,
};

/**
 * The client API thread's work: ms of its event loop busy (it has no heartbeats to inflate it). Its
 * heap is small (~13 MiB live), so a collection is short and worth it at less growth.
 */
export const API_IDLE_COLLECT: IdleCollectOptions = {
  checkIntervalMs: 1000,
  quietWork: 150, // 15 % of the interval
  minGrowthBytes: 4 * 2 ** 20,
  minGapMs: 5_000,
};

/** A collection that logs what it freed (heap used and total, off-heap and resident MiB, before and after). */
export function collectLogged(log: { info(obj: object, msg: string): void }): () => void {
  return () => {
    const mib = (b: number): number => Math.round(b / 2 ** 20);
    const before = process.memoryUsage();
    collectGarbage({ compact: true });
    const after = process.memoryUsage();
    log.info(
      {
        heapUsedMiB: [mib(before.heapUsed), mib(after.heapUsed)],
        heapMiB: [mib(before.heapTotal), mib(after.heapTotal)],
        externalMiB: [mib(before.external), mib(after.external)],
        rssMiB: [mib(before.rss), mib(after.rss)],
      },
      'idle after work: garbage collected',
    );
  };
}

/**
 * The node thread's idle collection: its work is the entries applied (`applied`: the applied index)
 * plus the client requests it served ('request' events), and a collection is logged.
 */
export function startNodeIdleCollect(
  applied: () => number,
  events: { on(event: 'request', listener: () => void): unknown },
  log: { info(obj: object, msg: string): void },
): () => void {
  let requests = 0;
  events.on('request', () => requests++);
  return startIdleCollect(
    NODE_IDLE_COLLECT,
    countedWork(() => applied() + requests),
    collectLogged(log),
  );
}
