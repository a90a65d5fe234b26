// The API thread's counters, in shared memory: it stores them with Atomics at most STATS_INTERVAL_MS
// apart (from its loop-lag probe: every 100 ms while it works, every 250 ms once idle; worker.ts),
// the node's thread reads them whenever it likes (metrics), with no message either way.

export const STATS_INTERVAL_MS = 250;

const SLOTS = [
  'refusedConnections',
  'rejectedOverload',
  'inFlight',
  'fastServed',
  'fastDeclined',
  /** Lease reads answered on the API thread without a message (local-reads.ts). */
  'localLeaseReads',
  'loopLagMaxUs',
  'loopLagP99Us',
] as const;
export type ApiThreadStatName = (typeof SLOTS)[number];
export type ApiThreadStats = Record<ApiThreadStatName, number>;

export function newStatsBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(SLOTS.length * Int32Array.BYTES_PER_ELEMENT);
}

/** Counters wrap at 2^31 (Int32Array): fine for a rate, and the metrics treat them as gauges of a window. */
export function writeStats(buf: SharedArrayBuffer, s: ApiThreadStats): void {
  const a = new Int32Array(buf);
  SLOTS.forEach((name, i) => Atomics.store(a, i, Math.min(0x7fffffff, Math.max(0, Math.round(s[name])))));
}

export function readStats(buf: SharedArrayBuffer): ApiThreadStats {
  const a = new Int32Array(buf);
  const out = {} as ApiThreadStats;
  SLOTS.forEach((name, i) => (out[name] = Atomics.load(a, i)));
  return out;
}
