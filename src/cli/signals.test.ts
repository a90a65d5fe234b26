// serve's signal listeners: installed once and never swapped, so that no signal is lost between
// start-up and running (signals.ts; docs/design.md, "Stopping").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { holdSignals, onSignals, type StopSignal } from './signals.ts';
import { waitFor } from '../testkit/wait.ts';

test('a signal that arrives before the handler is set is handed to it, also when set in the same turn', async () => {
  holdSignals();
  const got: StopSignal[] = [];
  // Held: dispatched to the listener (an event-loop turn) before any handler exists.
  process.kill(process.pid, 'SIGHUP');
  await new Promise((r) => setImmediate(r));
  // Taken in by libuv but not yet dispatched when the handler is set (no turn in between): a
  // listener removed and another added here would lose it.
  process.kill(process.pid, 'SIGHUP');
  onSignals((sig) => got.push(sig));
  await waitFor('both SIGHUPs', 5000, () => got.length === 2);
  assert.deepEqual(got, ['SIGHUP', 'SIGHUP']);
  // This test file's process still ends on SIGTERM/SIGINT (the test runner's).
  onSignals((sig) => {
    if (sig !== 'SIGHUP') process.exit(1);
  });
});
