// The node's own snapshot encoded a batch at a time (issue 16): the batches are the pages' bytes as
// they are (views, never one buffer of the snapshot's size), and they make exactly snapshot()'s bytes.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { test } from 'node:test';
import { KvStateMachine } from './machine.ts';
import { put } from './test-helpers.ts';

/** The pieces of a state, concatenated; the largest batch and the largest single piece, in bytes. */
function drain(m: KvStateMachine): { bytes: Buffer; maxBatch: number; maxPiece: number; batches: number } {
  const body = m.snapshotPieces();
  const parts: Uint8Array[] = [];
  let maxBatch = 0;
  let maxPiece = 0;
  let batches = 0;
  for (let b = body.next(); b !== null; b = body.next()) {
    batches++;
    maxBatch = Math.max(
      maxBatch,
      b.reduce((n, p) => n + p.length, 0),
    );
    for (const p of b) maxPiece = Math.max(maxPiece, p.length);
    parts.push(...b.map((p) => Buffer.from(p)));
  }
  body.release();
  const bytes = Buffer.concat(parts);
  assert.equal(bytes.length, body.totalBytes);
  return { bytes, maxBatch, maxPiece, batches };
}

test('snapshotPieces: the same bytes as snapshot(), in batches of at most ~4 MiB of page views', () => {
  const m = new KvStateMachine();
  const value = 'v'.repeat(100);
  for (let i = 0; i < 120_000; i++) put(m, `key-${String(i).padStart(7, '0')}`, value);
  const whole = m.snapshot();
  assert.ok(whole.length > 12 << 20, `${whole.length} bytes`);
  const d = drain(m);
  assert.ok(d.bytes.equals(whole));
  assert.ok(d.batches >= 3, `${d.batches} batches`);
  // A batch closes once it reaches 4 MiB: at most one page (16 KiB, a little more when full) past it.
  assert.ok(d.maxBatch <= (4 << 20) + (32 << 10), `largest batch ${d.maxBatch} bytes`);
  assert.ok(d.maxPiece <= 32 << 10, `largest piece ${d.maxPiece} bytes: pages, not a copy`);
  // An empty state, too.
  assert.ok(drain(new KvStateMachine()).bytes.equals(new KvStateMachine().snapshot()));
});

test('snapshotPieces: the state at the call, whatever is applied while the batches are read', () => {
  const m = new KvStateMachine();
  for (let i = 0; i < 40_000; i++) put(m, `k${i}`, `v${i}`);
  const atCall = m.snapshot();
  const body = m.snapshotPieces();
  // Views kept as they are until the end: a write to a frozen page must copy it, not change them.
  const parts: Uint8Array[] = [];
  let first = true;
  for (let b = body.next(); b !== null; b = body.next()) {
    parts.push(...b);
    if (first) {
      // Overwrites early and late in key order, an insert: copy-on-write keeps the frozen pages.
      put(m, 'k1', 'changed');
      put(m, 'k39999', 'changed');
      put(m, 'late', 'x');
      first = false;
    }
  }
  put(m, 'k20000', 'changed after the last batch');
  assert.ok(Buffer.concat(parts).equals(atCall));
  body.release();
  assert.notDeepEqual(m.snapshot(), atCall);
  assert.throws(() => body.next(), /after release/);
});
