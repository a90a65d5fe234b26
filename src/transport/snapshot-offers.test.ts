// Issue 16: snapshot offers are decided before anything is allocated for them, and one transfer at a
// time is received (a new member whose catch-up saw leadership move held three ~100 MiB buffers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Message, NodeId, SnapshotRequest } from '../raft/types.ts';
import { memorySpool, type SnapshotSpool, type SpoolOpener } from './spool.ts';
import { get, snapMsg as snapMessage, startMesh } from './test-helpers.ts';
import { sleep, waitFor } from '../testkit/wait.ts';

/** Snapshot messages of a three-voter configuration. */
const snapMsg = (from: NodeId, to: NodeId, index: number, term = 3): SnapshotRequest =>
  snapMessage(from, to, index, term, ['a', 'b', 'c']);

/** Spools that count what they hold; appends wait while `held` is set (a slow disk, a transfer in progress). */
class CountingSpools {
  opened = 0;
  live = 0;
  /** Largest number of spools holding bytes at once. */
  maxLive = 0;
  held = false;
  readBacks = 0;
  private readonly waiting: (() => void)[] = [];

  readonly open: SpoolOpener = (totalBytes) => {
    this.opened++;
    const inner = memorySpool(totalBytes);
    let counted = false;
    const drop = (): void => {
      if (counted) this.live--;
      counted = false;
    };
    const spool: SnapshotSpool = {
      append: (data, done) => {
        if (!counted) {
          counted = true;
          this.live++;
          this.maxLive = Math.max(this.maxLive, this.live);
        }
        const go = (): void => inner.append(data, done);
        if (this.held) this.waiting.push(go);
        else go();
      },
      complete: (done) => {
        this.readBacks++;
        drop();
        inner.complete(done);
      },
      discard: () => {
        drop();
        inner.discard();
      },
    };
    return spool;
  };

  release(): void {
    this.held = false;
    for (const go of this.waiting.splice(0)) go();
  }
}

test('an offer of a snapshot the node already holds allocates nothing: acknowledged, and the request goes to the core', async () => {
  const spools = new CountingSpools();
  const nodes = await startMesh(['a', 'b'], { snapshotSpool: spools.open });
  try {
    const a = get(nodes, 'a');
    const b = get(nodes, 'b');
    let delivered = 0;
    b.t.onSnapshot(() => delivered++);
    b.t.onSnapshotOffer((_from, msg) => (msg.snapshot.index <= 8603 ? 'have' : 'accept'));
    const stepped: Message[] = [];
    b.t.onMessage((m) => stepped.push(m));
    a.t.sendSnapshot('b', snapMsg('a', 'b', 8603), randomBytes(2 * 1024 * 1024));
    await waitFor('the sender sees the transfer end', 5000, () => !a.t.snapshotInProgress('b'), { intervalMs: 2 });
    await waitFor('the request reaches the core', 5000, () => stepped.length === 1, { intervalMs: 2 });
    assert.equal(stepped[0]?.type, 'snap');
    assert.equal(spools.opened, 0, 'nothing was allocated for the offer');
    assert.equal(delivered, 0);
    assert.equal(b.t.stats().peers['a']?.snapshotBytesReceived, 0);
    assert.equal(b.t.stats().peers['a']?.snapshotOffersDeclined, 1);
    assert.equal(a.t.stats().peers['b']?.snapshotBytesSent, 0, 'no chunk was sent');
  } finally {
    await Promise.all([...nodes.values()].map((n) => n.t.stop()));
  }
});

test('an offer from an earlier term is refused without allocating; its request goes to the core (which answers the newer term)', async () => {
  const spools = new CountingSpools();
  const nodes = await startMesh(['a', 'b'], { snapshotSpool: spools.open });
  try {
    const a = get(nodes, 'a');
    const b = get(nodes, 'b');
    b.t.onSnapshotOffer((_from, msg) => (msg.term < 5 ? 'stale' : 'accept'));
    const stepped: Message[] = [];
    b.t.onMessage((m) => stepped.push(m));
    a.t.sendSnapshot('b', snapMsg('a', 'b', 9000, 4), randomBytes(1024 * 1024));
    await waitFor('the sender gives up', 5000, () => !a.t.snapshotInProgress('b'), { intervalMs: 2 });
    await waitFor('the request reaches the core', 5000, () => stepped.length === 1, { intervalMs: 2 });
    assert.equal(spools.opened, 0);
    assert.equal(a.t.stats().peers['b']?.snapshotsSent, 0, 'refused, not delivered');
  } finally {
    await Promise.all([...nodes.values()].map((n) => n.t.stop()));
  }
});

test('one transfer at a time: a second leader of the same term is refused, a later term replaces the first and frees it', async () => {
  const spools = new CountingSpools();
  const nodes = await startMesh(['a', 'b', 'c'], { snapshotSpool: spools.open, snapshotChunkBytes: 64 * 1024 });
  try {
    const a = get(nodes, 'a');
    const b = get(nodes, 'b');
    const c = get(nodes, 'c');
    const got: { from: NodeId; data: Uint8Array }[] = [];
    c.t.onSnapshot((from, _msg, data) => got.push({ from, data: data as Uint8Array }));
    const received = (p: NodeId): number => c.t.stats().peers[p]?.snapshotBytesReceived ?? 0;
    // a's transfer stalls after its first window (the spool holds its writes): still in progress.
    spools.held = true;
    const fromA = randomBytes(1024 * 1024);
    a.t.sendSnapshot('c', snapMsg('a', 'c', 8603, 3), fromA);
    await waitFor('a transfer under way', 5000, () => received('a') > 0, { intervalMs: 2 });
    assert.equal(spools.opened, 1);
    // The disk is not on the round trip, but a stalled one holds the acks back: what waits in memory
    // is two windows (2 × 2 chunks of 64 KiB) at most.
    await sleep(100);
    assert.ok(received('a') <= 4 * 64 * 1024, `${received('a')} bytes received while none was stored`);
    // b in the same term (impossible for a real leader; say, a stale view): refused, nothing allocated.
    b.t.sendSnapshot('c', snapMsg('b', 'c', 8611, 3), randomBytes(1024 * 1024));
    await waitFor('b refused', 5000, () => !b.t.snapshotInProgress('c'), { intervalMs: 2 });
    assert.equal(spools.opened, 1, 'no second spool for a concurrent offer');
    assert.equal(c.t.stats().peers['b']?.snapshotOffersDeclined, 1);
    // b as the next term's leader: replaces a's transfer, whose bytes are let go.
    const fromB = randomBytes(1024 * 1024);
    b.t.sendSnapshot('c', snapMsg('b', 'c', 8611, 4), fromB);
    await waitFor('b transfer under way', 5000, () => received('b') > 0, { intervalMs: 2 });
    assert.equal(spools.opened, 2);
    assert.equal(spools.live, 1, "a's partial transfer was freed");
    // a's link is told, and lets its bytes go (else it would wait for acks for ever).
    await waitFor('a gives its transfer up', 5000, () => !a.t.snapshotInProgress('c'), { intervalMs: 2 });
    spools.release();
    await waitFor("b's snapshot delivered", 10_000, () => got.length === 1, { intervalMs: 2 });
    assert.equal(got[0]?.from, 'b');
    assert.ok(Buffer.from(got[0]?.data ?? []).equals(fromB));
    assert.equal(spools.maxLive, 1, 'never two transfers held at once');
    assert.equal(got.length, 1, "a's chunks still in flight were dropped");
  } finally {
    await Promise.all([...nodes.values()].map((n) => n.t.stop()));
  }
});

test('a snapshot the node no longer needs once it has arrived (a newer term meanwhile) is not read back or delivered', async () => {
  const spools = new CountingSpools();
  const nodes = await startMesh(['a', 'b'], { snapshotSpool: spools.open, snapshotChunkBytes: 64 * 1024 });
  try {
    const a = get(nodes, 'a');
    const b = get(nodes, 'b');
    let term = 3;
    b.t.onSnapshotOffer((_from, msg) => (msg.term < term ? 'stale' : 'accept'));
    let delivered = 0;
    b.t.onSnapshot(() => delivered++);
    const stepped: Message[] = [];
    b.t.onMessage((m) => stepped.push(m));
    spools.held = true;
    a.t.sendSnapshot('b', snapMsg('a', 'b', 8603, 3), randomBytes(512 * 1024));
    await waitFor('transfer under way', 5000, () => (b.t.stats().peers['a']?.snapshotBytesReceived ?? 0) > 0, {
      intervalMs: 2,
    });
    term = 4; // a later leader's heartbeat reached the node
    spools.release();
    await waitFor('the request reaches the core', 10_000, () => stepped.length === 1, { intervalMs: 2 });
    assert.equal(delivered, 0);
    assert.equal(spools.readBacks, 0, 'its bytes were not read back');
    assert.equal(spools.live, 0, 'and were let go');
  } finally {
    await Promise.all([...nodes.values()].map((n) => n.t.stop()));
  }
});
