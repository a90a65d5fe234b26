// The loop-lag scrape of `--scenario abuse`: which /metrics series it reads, in ms.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLoopLag } from './abuse.ts';

const mainLoop = ['nodejs_eventloop_lag_max_seconds 0.25', 'nodejs_eventloop_lag_p99_seconds 0.05'].join('\n');

test('the main event loop lag, in ms, the largest over the members', () => {
  const other = ['nodejs_eventloop_lag_max_seconds 0.5', 'nodejs_eventloop_lag_p99_seconds 0.01'].join('\n');
  assert.deepEqual(parseLoopLag([mainLoop, other]), { maxMs: 500, p99Ms: 50, source: 'event loop' });
});

test("the consensus loop's own series wins over the main loop's (quantile labels or names)", () => {
  const own = [
    '# HELP leasekv_consensus_loop_lag_seconds lag',
    'leasekv_consensus_loop_lag_seconds{quantile="0.99"} 0.002',
    'leasekv_consensus_loop_lag_seconds{quantile="1"} 0.004',
  ].join('\n');
  assert.deepEqual(parseLoopLag([mainLoop, own]), { maxMs: 4, p99Ms: 2, source: 'consensus' });
  assert.deepEqual(parseLoopLag(['leasekv_loop_lag_max_ms 7\nleasekv_loop_lag_p99_ms 3']), {
    maxMs: 7,
    p99Ms: 3,
    source: 'consensus',
  });
});

test("the client API thread's lag is not the consensus loop's", () => {
  const text = [
    'leasekv_consensus_loop_lag_max_seconds 0.012',
    'leasekv_consensus_loop_lag_p99_seconds 0.003',
    'leasekv_api_loop_lag_max_seconds 0.4',
    'leasekv_api_loop_lag_p99_seconds 0.2',
  ].join('\n');
  assert.deepEqual(parseLoopLag([text]), { maxMs: 12, p99Ms: 3, source: 'consensus' });
});

test('n/a when no member exports either', () => {
  assert.deepEqual(parseLoopLag(['', 'leasekv_term 3']), { maxMs: null, p99Ms: null, source: null });
});
