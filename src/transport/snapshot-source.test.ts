// Sending a snapshot from a source read a chunk at a time (issue 16: the server reads it from the
// snapshot file instead of holding it whole): the bytes arrive intact and the source is released
// however the transfer ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { SnapshotSource } from './outbound.ts';
import { get, snapMsg, startMesh } from './test-helpers.ts';
import { sleep, waitFor } from '../testkit/wait.ts';
import type { SpoolOpener } from './spool.ts';

/** A source over `data` whose reads complete in a later turn (as a file's do); counts what it does. */
function slowSource(data: Uint8Array): SnapshotSource & { reads: number; released: number; maxRead: number } {
  const s = {
    totalBytes: data.length,
    crc32: crc32(data),
    reads: 0,
    released: 0,
    maxRead: 0,
    read(offset: number, bytes: number, done: (err: Error | null, d: Uint8Array | null) => void): void {
      s.reads++;
      s.maxRead = Math.max(s.maxRead, bytes);
      setImmediate(() => done(null, Buffer.from(data.subarray(offset, offset + bytes))));
    },
    release(): void {
      s.released++;
    },
  };
  return s;
}

test('a snapshot read from a source a chunk at a time arrives whole; the source is released when delivered', async () => {
  const nodes = await startMesh(['a', 'b'], { snapshotChunkBytes: 64 * 1024 });
  try {
    const a = get(nodes, 'a');
    const b = get(nodes, 'b');
    const got: Uint8Array[] = [];
    b.t.onSnapshot((_from, _msg, data) => got.push(data as Uint8Array));
    const data = randomBytes(3 * 1024 * 1024 + 5);
    const src = slowSource(data);
    a.t.sendSnapshot('b', snapMsg('a', 'b', 42), src);
    await waitFor('delivery', 15_000, () => got.length === 1, { intervalMs: 2 });
    assert.ok(Buffer.from(got[0] ?? []).equals(data));
    await waitFor('transfer ends', 5000, () => !a.t.snapshotInProgress('b'), { intervalMs: 2 });
    assert.equal(src.released, 1);
    assert.equal(src.maxRead, 64 * 1024, 'read a chunk at a time');
    assert.ok(src.reads >= data.length / (64 * 1024));
  } finally {
    await Promise.all([...nodes.values()].map((n) => n.t.stop()));
  }
});

test('a source is released when its transfer is replaced, and when the transport stops', async () => {
  const nodes = await startMesh(['a', 'b'], { snapshotChunkBytes: 64 * 1024 });
  const a = get(nodes, 'a');
  const first = slowSource(randomBytes(8 * 1024 * 1024));
  const second = slowSource(randomBytes(8 * 1024 * 1024));
  try {
    a.t.sendSnapshot('b', snapMsg('a', 'b', 42), first);
    a.t.sendSnapshot('b', snapMsg('a', 'b', 43), second);
    assert.equal(first.released, 1);
    assert.equal(second.released, 0);
  } finally {
    await Promise.all([...nodes.values()].map((n) => n.t.stop()));
  }
  assert.equal(second.released, 1);
  const late = slowSource(randomBytes(10));
  a.t.sendSnapshot('b', snapMsg('a', 'b', 44), late); // stopped: never started
  assert.equal(late.released, 1);
});

test('while the window is full, the next chunk is read ahead (a read is not on every round trip), one at most', async () => {
  // The receiver's disk never finishes a write: its acks stop, and so does the sender's window.
  const stalled: SpoolOpener = () => ({ append() {}, complete() {}, discard() {} });
  const nodes = await startMesh(['a', 'b'], { snapshotChunkBytes: 64 * 1024, snapshotSpool: stalled });
  try {
    const a = get(nodes, 'a');
    const src = slowSource(randomBytes(4 * 1024 * 1024));
    a.t.sendSnapshot('b', snapMsg('a', 'b', 42), src);
    const sent = (): number => a.t.stats().peers['b']?.snapshotBytesSent ?? 0;
    await waitFor('the window fills', 5000, () => sent() > 0, { intervalMs: 2 });
    await sleep(200);
    const chunks = sent() / (64 * 1024);
    assert.ok(chunks < 64, 'held back by the receiver');
    assert.equal(src.reads, chunks + 1, `${chunks} chunks sent, ${src.reads} read`);
  } finally {
    await Promise.all([...nodes.values()].map((n) => n.t.stop()));
  }
});
