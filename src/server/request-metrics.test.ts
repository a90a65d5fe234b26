// The collector of our own exports exactly what prom-client's Counter and Histogram did for the same
// requests: the /metrics text (names, help, labels, series order, buckets, sums) and the JSON form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Histogram, Registry } from 'prom-client';
import { RequestMetrics } from './request-metrics.ts';

const BUCKETS_S = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** The metrics as metrics.ts defined them before (session 12's main), fed the same way. */
function promClientPair(registry: Registry): (method: string, mode: string, ms: number, ok: boolean) => void {
  const registers = [registry];
  const requests = new Counter({
    name: 'leasekv_requests_total',
    help: 'Client requests by method, read mode and outcome',
    labelNames: ['method', 'mode', 'outcome'],
    registers,
  });
  const latency = new Histogram({
    name: 'leasekv_request_duration_seconds',
    help: 'Client request latency by method and mode (write; lease, readindex or stale as served; linearizable or stale if failed)',
    labelNames: ['method', 'mode'],
    buckets: BUCKETS_S,
    registers,
  });
  return (method, mode, ms, ok) => {
    requests.inc({ method, mode, outcome: ok ? 'ok' : 'error' });
    latency.observe({ method, mode }, ms / 1000);
  };
}

/** A seeded sequence of requests: several methods and modes, errors, values on bucket bounds and past 10 s. */
function* requests(n: number): Generator<[string, string, number, boolean]> {
  let x = 12345;
  const next = (): number => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
  const kinds: [string, string][] = [
    ['Put', 'write'],
    ['Get', 'lease'],
    ['Get', 'readindex'],
    ['Range', 'stale'],
    ['Txn', 'write'],
    ['Get', 'linearizable'],
  ];
  for (let i = 0; i < n; i++) {
    const [method, mode] = kinds[Math.floor(next() * kinds.length)] as [string, string];
    const r = next();
    const ms =
      r < 0.1
        ? (BUCKETS_S[Math.floor(next() * BUCKETS_S.length)] as number) * 1000
        : r < 0.12
          ? 20_000
          : next() ** 4 * 3000;
    yield [method, mode, ms, next() > 0.1];
  }
}

async function both(n: number, resetAfter = -1): Promise<[Registry, Registry]> {
  const theirs = new Registry();
  const ours = new Registry();
  const observe = promClientPair(theirs);
  const mine = new RequestMetrics(BUCKETS_S);
  mine.register(ours);
  let i = 0;
  for (const [method, mode, ms, ok] of requests(n)) {
    observe(method, mode, ms, ok);
    mine.observe(method, mode, ms, ok);
    if (++i === resetAfter) {
      theirs.resetMetrics();
      ours.resetMetrics();
    }
  }
  return [theirs, ours];
}

test('the text output equals prom-client’s for the same requests', async () => {
  for (const n of [0, 1, 7, 2000]) {
    const [theirs, ours] = await both(n);
    const want = await theirs.metrics();
    assert.equal(await ours.metrics(), want, `after ${n} requests`);
    if (n > 1) assert.match(want, /leasekv_request_duration_seconds_bucket\{le="0.00005",method="/);
  }
});

test('the JSON output and a reset match prom-client’s', async () => {
  const [theirs, ours] = await both(500);
  assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
  const [theirs2, ours2] = await both(500, 250);
  assert.equal(await ours2.metrics(), await theirs2.metrics());
});

test('the comparison can fail: a wrong bucket shows', async () => {
  const theirs = new Registry();
  const ours = new Registry();
  promClientPair(theirs)('Put', 'write', 1, true);
  const mine = new RequestMetrics(BUCKETS_S);
  mine.register(ours);
  mine.observe('Put', 'write', 1.5, true); // 1.5 ms is past the 1 ms bucket
  assert.notEqual(await ours.metrics(), await theirs.metrics());
});
