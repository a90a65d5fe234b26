// The shared lease view on its own (no threads): what makes the API thread answer a lease read
// itself, and each condition that sends the read to the node's thread instead.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { performance } from 'node:perf_hooks';
import { LeaseViewReader, LeaseViewWriter, newLeaseViewBuffer, type LeaseViewState } from './lease-view.ts';

const put = (key: string) => ({ type: 'put' as const, kv: { key, value: 'v', create: 1, mod: 1, version: 1 } });

function setUp(): { w: LeaseViewWriter; r: LeaseViewReader; state: (s?: Partial<LeaseViewState>) => LeaseViewState } {
  const w = new LeaseViewWriter(newLeaseViewBuffer(), () => performance.now());
  const r = new LeaseViewReader(w.buffer);
  const state = (s: Partial<LeaseViewState> = {}): LeaseViewState => ({
    untilMs: performance.now() + 60_000,
    commit: 10,
    applied: 10,
    revision: 5,
    ...s,
  });
  // Revisions 1..5 applied through change(), as a node does.
  for (let rev = 1; rev <= 5; rev++) w.changed(rev, [put(`k${rev}`)]);
  return { w, r, state };
}

test('a value read at a revision is served while the lease is valid and the key unchanged', () => {
  const { w, r, state } = setUp();
  w.publish(state());
  assert.deepEqual(r.check('k3', 3n), { index: 10, revision: 5 });
  assert.deepEqual(r.check('absent', 1n), { index: 10, revision: 5 });
});

test('a key changed after the value was read goes to the node', () => {
  const { w, r, state } = setUp();
  w.publish(state());
  assert.equal(r.check('k3', 2n), null, 'k3 changed at revision 3');
  w.changed(6, [put('k1')]);
  assert.equal(r.check('k1', 5n), null, 'stamped inside apply, before any publish');
  assert.notEqual(r.check('k2', 5n), null, 'other keys stay');
});

test('no lease, an expired lease, or an apply behind the commit index: the node answers', () => {
  const { w, r, state } = setUp();
  w.publish(state({ untilMs: 0 }));
  assert.equal(r.check('k2', 5n), null);
  w.publish(state({ untilMs: performance.now() - 1 }));
  assert.equal(r.check('k2', 5n), null);
  // Ends within the conversion margin (1 ms): already treated as over.
  w.publish(state({ untilMs: performance.now() + 0.5 }));
  assert.equal(r.check('k2', 5n), null);
  w.publish(state({ commit: 11 }));
  assert.equal(r.check('k2', 5n), null);
  w.publish(state());
  assert.notEqual(r.check('k2', 5n), null);
  w.close();
  assert.equal(r.check('k2', 5n), null);
});

test('a revision reached without stamps (a snapshot installed) outdates every value read before it', () => {
  const { w, r, state } = setUp();
  w.publish(state({ revision: 9, applied: 20, commit: 20 }));
  assert.equal(r.check('k2', 5n), null);
  assert.notEqual(r.check('k2', 9n), null);
  // A jump seen by change() first (restored to 12, then 13 applied): values before 12 are outdated.
  w.changed(13, [put('x')]);
  assert.equal(r.check('k2', 11n), null);
  w.publish(state({ revision: 13, applied: 30, commit: 30 }));
  assert.notEqual(r.check('k2', 12n), null);
});

test('a publish in progress (odd sequence) is never read', () => {
  const { w, r, state } = setUp();
  w.publish(state());
  const a = new BigInt64Array(w.buffer);
  Atomics.add(a, 0, 1n);
  assert.equal(r.check('k2', 5n), null);
  Atomics.add(a, 0, 1n);
  assert.notEqual(r.check('k2', 5n), null);
});
