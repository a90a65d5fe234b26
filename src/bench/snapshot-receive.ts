// What a member holds while it receives snapshots when leadership moves during its catch-up
// (issue 16, docs/benchmarks.md "Issue 16, session 6"), in one process:
//   node --expose-gc --import tsx src/bench/snapshot-receive.ts [MIB] [DIR]
// The scale run's new member saw this: leader a (term 5) sends snapshot 8603; leadership moves to b
// (term 6), which sends 8611 while a's transfer runs; a offers 8603 again; 8611 is installed; a
// offers 8603 once more. Prints the receiver's peak off-heap bytes (ArrayBuffers) above what the
// senders hold, until the first transfer completes and overall (the install needs the one buffer). With DIR the receiver spools to disk there
// (src/storage/snapshot_spool.ts); the receiver answers offers as the node would (term, index held).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeId, SnapshotRequest } from '../raft/types.ts';
import { PeerTransport, type PeerTransportOptions } from '../transport/peer-transport.ts';

const mibArg = Number(process.argv[2] ?? 100);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const mib = (n: number): string => `${(n / 1048576).toFixed(0)} MiB`;

const dir = mkdtempSync(join(tmpdir(), 'snapshot-receive-'));
let spoolOpener: PeerTransportOptions['snapshotSpool'];
try {
  const { SnapshotSpoolDir } = await import('../storage/snapshot_spool.ts');
  const spools = new SnapshotSpoolDir(dir);
  spoolOpener = (n) => spools.open(n);
} catch {
  spoolOpener = undefined; // a tree without the spool: the receiver buffers in memory
}

function snap(from: NodeId, index: number, term: number): SnapshotRequest {
  return {
    type: 'snap',
    from,
    to: 'r',
    term,
    snapshot: { index, term, confState: { voters: ['a', 'b', 'r'], learners: [], removed: [] } },
    leaseDurationMs: 900,
    round: 1,
  };
}

const ids = ['a', 'b', 'r'];
const nodes = new Map<NodeId, PeerTransport>();
for (const id of ids) {
  const t = new PeerTransport({
    selfId: id,
    clusterId: 'bench',
    listenHost: '127.0.0.1',
    listenPort: 0,
    peers: new Map(ids.map((p) => [p, { host: '127.0.0.1', port: 1 }])),
    maxFrameBytes: 8 << 20,
    maxQueuedBytesPerPeer: 8 << 20,
    reconnectBackoffMinMs: 10,
    reconnectBackoffMaxMs: 100,
    ...(id === 'r' && spoolOpener !== undefined ? { snapshotSpool: spoolOpener } : {}),
  });
  await t.start();
  nodes.set(id, t);
}
for (const [id, t] of nodes)
  for (const [o, u] of nodes) if (o !== id) t.setPeerAddress(o, { host: '127.0.0.1', port: u.port });
const a = nodes.get('a') as PeerTransport;
const b = nodes.get('b') as PeerTransport;
const r = nodes.get('r') as PeerTransport;

// The receiver's node, as far as offers go: its term, the index it installed.
let term = 5;
let installed = 0;
if (typeof (r as { onSnapshotOffer?: unknown }).onSnapshotOffer === 'function') {
  r.onSnapshotOffer((_from, msg) => (msg.term < term ? 'stale' : msg.snapshot.index <= installed ? 'have' : 'accept'));
}
let deliveries = 0;
r.onSnapshot((_from, msg) => {
  deliveries++;
  installed = Math.max(installed, msg.snapshot.index); // installed, then its bytes let go
});

const dataA = randomBytes(mibArg << 20);
const dataB = randomBytes(mibArg << 20);
gc();
const base = process.memoryUsage().arrayBuffers;
let peak = 0;
let peakBeforeDelivery = 0;
const sampler = setInterval(() => {
  const d = process.memoryUsage().arrayBuffers - base;
  peak = Math.max(peak, d);
  if (completed() === 0) peakBeforeDelivery = Math.max(peakBeforeDelivery, d);
}, 2);
const received = (from: NodeId): number => r.stats().peers[from]?.snapshotBytesReceived ?? 0;
/** Transfers complete and checked (counted before the bytes are read back for delivery). */
function completed(): number {
  return Object.values(r.stats().peers).reduce((n, s) => n + s.snapshotsReceived, 0);
}
async function until(what: string, ok: () => boolean, ms = 120_000): Promise<void> {
  const end = performance.now() + ms;
  while (!ok()) {
    if (performance.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((res) => setTimeout(res, 2));
  }
}

const t0 = performance.now();
a.sendSnapshot('r', snap('a', 8603, 5), dataA);
await until('a under way', () => received('a') >= (mibArg << 20) * 0.3);
term = 6; // the new leader's first heartbeat
b.sendSnapshot('r', snap('b', 8611, 6), dataB);
await until('b under way', () => received('b') >= (mibArg << 20) * 0.3 || deliveries > 0);
a.sendSnapshot('r', snap('a', 8603, 5), dataA); // the old leader's core offers again
await until('8611 installed', () => installed >= 8611);
a.sendSnapshot('r', snap('a', 8603, 5), dataA); // and once more, below what is installed
await until('senders idle', () => !a.snapshotInProgress('r') && !b.snapshotInProgress('r'), 30_000).catch((e) =>
  console.log(String(e)),
);
clearInterval(sampler);
console.log(
  `${spoolOpener === undefined ? 'in memory' : 'disk spool'}: two ${mibArg} MiB snapshots from two leaders; ` +
    `receiver's peak off-heap bytes above the senders' ${mib(peakBeforeDelivery)} while the first transfers run, ` +
    `${mib(peak)} overall; ${deliveries} delivered; bytes received ${mib(received('a'))} from a, ${mib(received('b'))} from b; ` +
    `${((performance.now() - t0) / 1000).toFixed(1)} s`,
);
for (const t of nodes.values()) await t.stop();
rmSync(dir, { recursive: true, force: true });
