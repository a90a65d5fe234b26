// A small randomized check of lease exclusivity in TRUE time, with clock-rate drift at the bound,
// message delays, partitions, pauses longer than the lease, restarts and transfers. The simulator
// (src/sim/) does this at scale; this keeps the core honest on its own, and shows the check bites.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RaftConfigInput } from './config.ts';
import type { Mutant, NodeId } from './types.ts';
import { TestCluster } from './testkit.ts';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Returns the first violation found, or null. */
export function runSeed(
  seed: number,
  size: number,
  mutant?: Mutant,
  timings: Partial<RaftConfigInput> = {},
): string | null {
  const rnd = lcg(seed);
  const ids = ['a', 'b', 'c', 'd', 'e'].slice(0, size);
  const c = new TestCluster(ids, mutant === undefined ? timings : { ...timings, mutant }, () => rnd());
  for (const id of ids) c.get(id).rate = 1 + (rnd() < 0.5 ? -0.01 : 0.01) * rnd();
  const pausedUntil = new Map<NodeId, number>();
  let cut: NodeId[] = [];
  const deliverAt = new Map<object, number>();
  for (let step = 0; step < 1600; step++) {
    c.advance(5);
    if (rnd() < 0.01) cut = ids.filter(() => rnd() < 0.4);
    if (rnd() < 0.004) {
      const id = ids[Math.floor(rnd() * ids.length)] as NodeId;
      c.get(id).paused = true;
      pausedUntil.set(id, c.trueMs + 500 + rnd() * 1500);
    }
    if (rnd() < 0.002) c.restart(ids[Math.floor(rnd() * ids.length)] as NodeId);
    for (const [id, until] of pausedUntil) {
      if (c.trueMs >= until) {
        c.get(id).paused = false;
        pausedUntil.delete(id);
      }
    }
    const leader = c.leaders()[0];
    if (leader !== undefined && rnd() < 0.003) {
      const t = c.get(leader);
      const target = ids[Math.floor(rnd() * ids.length)] as NodeId;
      if (!t.paused) t.node.transferLeadership(target, t.nowMs);
      c.pump(leader);
    }
    // Each message gets a delivery time when first seen: mostly a few ms, sometimes hundreds.
    const queued = c.queue;
    c.queue = [];
    const keep = [];
    for (const m of queued) {
      if (!deliverAt.has(m)) {
        if (cut.includes(m.from) !== cut.includes(m.to) || rnd() < 0.02) continue;
        deliverAt.set(m, c.trueMs + (rnd() < 0.1 ? 50 + rnd() * 400 : rnd() * 15));
      }
      if (c.get(m.to).paused || (deliverAt.get(m) ?? 0) > c.trueMs) keep.push(m);
      else {
        deliverAt.delete(m);
        const t = c.get(m.to);
        t.node.step(m, t.nowMs);
        c.pump(m.to);
      }
    }
    c.queue.push(...keep);
    const holders = ids.filter((id) => c.get(id).node.isLeaseValid(c.get(id).nowMs));
    if (holders.length > 1) return `seed ${seed}: ${holders.join(' and ')} both hold a lease at true ${c.trueMs} ms`;
  }
  return null;
}

test('lease exclusivity: at no true instant do two nodes hold a valid lease (3 and 5 nodes, drift at the bound)', () => {
  for (let seed = 1; seed <= 8; seed++) {
    assert.equal(runSeed(seed, 3), null);
    assert.equal(runSeed(seed + 100, 5), null);
  }
});

test("lease exclusivity with the server's default timings (heartbeat 50 ms, election 600–1200 ms, lease 540 ms)", () => {
  // The server's `local` profile (src/server/config.ts, PROFILES): docs/lease-safety.md, "Choosing the timings".
  const local = {
    heartbeatIntervalMs: 50,
    electionTimeoutMinMs: 600,
    electionTimeoutMaxMs: 1200,
    leaseDurationMs: 540,
  };
  for (let seed = 1; seed <= 8; seed++) {
    assert.equal(runSeed(seed + 200, 3, undefined, local), null);
    assert.equal(runSeed(seed + 300, 5, undefined, local), null);
  }
  // ...and the check still bites at these timings.
  let caught = false;
  for (let seed = 1; seed <= 60 && !caught; seed++) caught = runSeed(seed, 3, 'lease-from-ack', local) !== null;
  assert.equal(caught, true);
});

test('the exclusivity check bites: lease-from-ack is caught', () => {
  const caught = (mutant: Mutant): boolean => {
    for (let seed = 1; seed <= 40; seed++) if (runSeed(seed, 3, mutant) !== null) return true;
    return false;
  };
  assert.equal(caught('lease-from-ack'), true);
});
