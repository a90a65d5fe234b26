// What the host (the node's drive loop, src/host/drive.ts) is written against. Every part that
// touches the world is injected: the server (src/server/start.ts) wires the real clock, timers,
// persister, TCP transport and slicing; the simulator (src/sim/node.ts) wires simulated ones with
// faults, on virtual time. The key-value state machine is the real one (src/kv) in both.
import type { RaftConfig } from '../raft/config.ts';
import type { Entry, HardState, Message, NodeId, SnapshotMeta, SnapshotRequest } from '../raft/types.ts';
import type { SnapshotBody } from '../storage/snapshot_save.ts';
import type { SnapshotSource } from '../transport/outbound.ts';
import type { ReceivedSnapshotData } from '../transport/spool.ts';

/** Monotonic time and timers (docs/lease-notes.md case 3: never wall-clock time). */
export interface HostClock {
  /** Monotonic milliseconds on this node's clock. */
  now(): number;
  /** Runs `fn` in a later turn of the event loop (the server: setImmediate). */
  defer(fn: () => void): void;
  /** Runs `fn` after `ms` milliseconds of this node's clock; returns a handle for cancel(). */
  after(ms: number, fn: () => void): unknown;
  cancel(handle: unknown): void;
}

export interface SnapshotData {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/**
 * A snapshot received from the leader: its bytes, or (the server, issue 16) its spool file, restored
 * from in pieces and renamed into place — never read back whole. The host releases a file it drops.
 */
export interface ReceivedSnapshot {
  readonly meta: SnapshotMeta;
  readonly data: ReceivedSnapshotData;
}

export interface PersistRequest {
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
  /** A snapshot received from the leader, installed before the entries (Ready contract). */
  readonly snapshot: ReceivedSnapshot | null;
  readonly sync: boolean;
}

/** Called once with null when the request is durable, or with the storage error that stops the node. */
export type Done = (err: unknown) => void;

/**
 * The persister's interface (src/storage/persister.ts): requests are durable in call order, and
 * requests made while a write+fsync is in flight share the next one (group commit).
 */
export interface HostStorage {
  persist(req: PersistRequest, done: Done): void;
  /** Saves a state machine snapshot atomically, then compacts the log up to it. Takes `data` over. */
  saveSnapshot(meta: SnapshotMeta, data: Uint8Array, done: Done): void;
  /**
   * As saveSnapshot, the data encoded from the state machine's frozen pages a batch at a time as it
   * is written (the server; issue 16: no buffer of the snapshot's size). Takes the body over: it is
   * released once written or failed. Absent (the simulator): saveSnapshot with the bytes whole.
   */
  saveSnapshotBody?(meta: SnapshotMeta, body: SnapshotBody, done: Done): void;
  loadSnapshot(done: (err: unknown, snap: SnapshotData | null) => void): void;
  /**
   * Entries [lo, hi] of the log read back from disk, in index order from lo, stopping once more
   * than maxBytes of data were read (at least one entry); null when lo is compacted away (issue 16:
   * the core keeps only a window of the log in memory; Ready.logReads). Asked only for durable entries.
   */
  readEntries(lo: number, hi: number, maxBytes: number, done: (err: unknown, entries: Entry[] | null) => void): void;
  /**
   * The snapshot file, checked, to be read a chunk at a time while it is sent (the server; issue 16:
   * the leader no longer holds the whole snapshot while a follower receives it). Absent: loadSnapshot.
   */
  openSnapshotSource?(done: (err: unknown, src: SnapshotFileSource | null) => void): void;
}

/** A snapshot file read on demand (src/storage/snapshot_source.ts). */
export interface SnapshotFileSource extends SnapshotSource {
  readonly meta: SnapshotMeta;
}

/** The peer transport (src/transport): batched per peer, snapshots chunked and resumable. */
export interface HostTransport {
  /** Non-blocking; messages to one peer in one call are batched. Undeliverable messages are dropped (Raft retries). */
  send(msgs: readonly Message[]): void;
  /** Streams snapshot data to msg.to in chunks; delivered there as onSnapshot once complete. */
  sendSnapshot(msg: SnapshotRequest, data: Uint8Array): void;
  /** As sendSnapshot, reading the bytes from `source` as they are sent; the transfer releases it. */
  sendSnapshotFrom?(msg: SnapshotRequest, source: SnapshotSource): void;
  /** Whether a snapshot transfer to `to` is still unacknowledged (the core re-offers snapshots). */
  snapshotInProgress(to: NodeId): boolean;
  onMessage(handler: (msg: Message) => void): void;
  onSnapshot(handler: (msg: SnapshotRequest, data: ReceivedSnapshotData) => void): void;
}

/**
 * Encoding and decoding the state machine without stopping the loop: the server yields to the event
 * loop between slices (KvStateMachine.snapshotAsync/restoreAsync); the simulator runs them whole and
 * answers after a modelled delay.
 */
export interface KvSlicer {
  snapshot(done: (err: unknown, data: Uint8Array | null) => void): void;
  /** A spool file is read in pieces (the server); the simulator's transport only delivers bytes. */
  restore(data: ReceivedSnapshotData, done: Done): void;
}

/** Structured log lines (pino's Logger fits; the simulator passes a silent one). */
export interface HostLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  fatal(obj: object, msg: string): void;
}

/** Deliberately broken hosts for the simulator's mutant suite (docs/simulator.md). Never set by the server. */
export type HostMutant =
  | 'ack-before-fsync'
  | 'apply-uncommitted'
  | 'session-dedupe-off'
  | 'ttl-no-restart-on-leader-change'
  | 'ttl-expire-early';

export const HOST_MUTANTS: readonly HostMutant[] = [
  'ack-before-fsync',
  'apply-uncommitted',
  'session-dedupe-off',
  'ttl-no-restart-on-leader-change',
  'ttl-expire-early',
];

export interface HostConfig {
  readonly raft: RaftConfig;
  /** The core's election jitter. */
  readonly random: () => number;
  readonly heartbeatIntervalMs: number;
  readonly snapshotThresholdEntries: number;
  /** Also snapshot once the entries applied since the last one hold this many bytes (none: by count only). */
  readonly snapshotThresholdBytes?: number;
  /** Serve linearizable reads from the leader's lease (else always a ReadIndex round). */
  readonly leaseReads: boolean;
  readonly maxClockDriftRate: number;
  readonly mutant?: HostMutant;
}

export interface RestoredState {
  readonly fresh: boolean;
  readonly hardState: HardState;
  readonly snapshot: SnapshotMeta | null;
  readonly entries: readonly Entry[];
}

/** How a linearizable read was made safe: the leader's lease, or a ReadIndex round. */
export type ReadBarrierMode = 'lease' | 'readindex';
