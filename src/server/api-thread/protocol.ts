// What the node's thread and the client API thread say to each other over their MessagePort
// (docs/design.md, "Threads"). Requests are the KvBackend / ClusterBackend calls, without the
// abort signal (a cancel message stands for it); answers are their results or errors. Errors cross
// as {name, message, fields} and are rebuilt as the same class, so that the API maps them to the
// same status codes and headers as in one thread (api/errors.ts).
import type { GetRequest, KeyValue, PutRequest } from '../backend.ts';
import type { ApiLimits } from '../api/limits.ts';
import type { ClientTlsMaterial } from '../api/front.ts';
import type { AuthGateSettings } from '../auth/gate.ts';
import type { WatchBatch, WatchRequest } from '../watch/hub.ts';

/** KvBackend methods (the signal, when they take one, is appended by the node's side). */
export const KV_OPS = [
  'put',
  'get',
  'delete',
  'compareAndSwap',
  'range',
  'txn',
  'ttlGrant',
  'ttlKeepAlive',
  'ttlRevoke',
  'compact',
  'status',
  /** AuthBackend (issue 15): users and roles change through the log. */
  'authChange',
] as const;
/** ClusterBackend methods. */
export const CLUSTER_OPS = ['memberList', 'memberAdd', 'memberPromote', 'memberRemove', 'transferLeadership'] as const;
export type CallOp = (typeof KV_OPS)[number] | (typeof CLUSTER_OPS)[number];

export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/** Batches a watcher may have in flight to the API thread before it acknowledges one (flow control). */
export const WATCH_WINDOW = 16;
/**
 * Bytes of batches (keys and values in UTF-16 units, kv/watcher.ts eventBytes) a watcher may have in
 * flight to the API thread: a new batch is taken only below it, so at most this plus one batch. A
 * window of 16 batches alone let each watcher that does not read hold 16 copies of large values on
 * the API thread (one structured clone per watcher): 20 such watchers and 1 MiB values, +400 MiB
 * of RSS (session 9 audit).
 */
export const WATCH_WINDOW_BYTES = 256 * 1024;

/** The messages one side queued within one turn of its loop, in order (turn-batch.ts). */
export interface Batch<M> {
  readonly t: 'batch';
  readonly ms: readonly M[];
}

/** API thread → node thread. */
export type ToNode =
  | Batch<ToNode>
  | { readonly t: 'call'; readonly id: number; readonly op: CallOp; readonly args: readonly unknown[] }
  | { readonly t: 'cancel'; readonly id: number }
  /** A Get the node answers at once if it can (lease or stale), else like get() within timeoutMs. */
  | { readonly t: 'get'; readonly id: number; readonly req: GetRequest; readonly timeoutMs: number }
  /** A Put without abort signal or cancel (KvBackend.putQuick): the node answers deadline_exceeded after timeoutMs. */
  | { readonly t: 'put'; readonly id: number; readonly req: PutRequest; readonly timeoutMs: number }
  /**
   * putQuick's Puts without TTL or session queued within one turn, their commands encoded on the API
   * thread (put-pack.ts): one buffer instead of an object per Put to copy and rebuild, and bytes the
   * node proposes as they are. Set when the turn's messages are sent.
   */
  | PutPack
  | { readonly t: 'watch'; readonly id: number; readonly req: WatchRequest }
  /** The API thread took one batch: one more may be sent. */
  | { readonly t: 'wnext'; readonly id: number }
  | { readonly t: 'wcancel'; readonly id: number }
  | { readonly t: 'log'; readonly level: 'info' | 'warn' | 'error'; readonly obj: object; readonly msg: string }
  | { readonly t: 'listening'; readonly port: number }
  | { readonly t: 'failed'; readonly message: string }
  | { readonly t: 'closed' };

/** A turn's packed Puts (put-pack.ts): `b` is empty until the turn's messages are sent. */
export interface PutPack {
  readonly t: 'puts';
  b: Uint8Array;
}

/** Node thread → API thread. */
export type ToApi =
  | Batch<ToApi>
  | { readonly t: 'ok'; readonly id: number; readonly v: unknown }
  /** Put answers ({index, revision}) of one turn, three numbers each: id, index, revision (put-pack.ts). */
  | { readonly t: 'putok'; readonly a: readonly number[] }
  | { readonly t: 'err'; readonly id: number; readonly e: WireError }
  | { readonly t: 'wbatch'; readonly id: number; readonly b: WatchBatch }
  /** The watcher ended: e null when cancelled, else why. */
  | { readonly t: 'wend'; readonly id: number; readonly e: WireError | null }
  | { readonly t: 'close'; readonly drainMs: number | undefined }
  /** Once, first: what to serve (the worker loads its modules before it is told). */
  | { readonly t: 'start'; readonly data: ApiThreadData }
  /** The TLS files were reloaded (SIGHUP): new connections use this. */
  | { readonly t: 'tls'; readonly material: ClientTlsMaterial }
  /** The node's auth table changed (AuthTable.encode()): the API thread's gate checks against this copy. */
  | { readonly t: 'auth'; readonly table: Uint8Array };

/** What the API thread is started with (its first message). */
export interface ApiThreadData {
  readonly host: string;
  readonly port: number;
  readonly limits: ApiLimits;
  readonly fastPath: boolean;
  /** api/framing.ts on plaintext HTTP/1.1 (--http1-framing). */
  readonly http1Framing: boolean;
  /** DNS names a Host may carry (api/host-check.ts); null: any Host is answered. */
  readonly allowedHosts: readonly string[] | null;
  readonly withCluster: boolean;
  /** Extra HTTP routes, served on the node's thread behind adminSocket. */
  readonly routes: readonly { readonly method: string; readonly path: string }[];
  readonly adminSocket: string;
  /** Users and roles (issue 15): the gate's settings and the table as it is now (null: no auth surface). */
  readonly auth: (AuthGateSettings & { readonly table: Uint8Array }) | null;
  /** TLS on the client port (null: plaintext); Buffers arrive as Uint8Arrays. */
  readonly tls: ClientTlsMaterial | null;
  /** Int32Array slots the API thread publishes its counters in (stats.ts). */
  readonly stats: SharedArrayBuffer;
  /** The node's lease and applied state, for lease reads answered on the API thread (lease-view.ts); null: none. */
  readonly leaseView: SharedArrayBuffer | null;
}

/** Connect's Code.DeadlineExceeded (this module stays free of Connect: the node thread never loads it). */
export const CODE_DEADLINE_EXCEEDED = 4;

/** A ConnectError, told by its shape (so that this module, used on the node thread, need not load Connect). */
function isConnectError(e: unknown): e is Error & {
  code: number;
  rawMessage: string;
  metadata: { forEach(f: (v: string, k: string) => void): void };
} {
  return (
    e instanceof Error &&
    e.name === 'ConnectError' &&
    typeof (e as { code?: unknown }).code === 'number' &&
    typeof (e as { rawMessage?: unknown }).rawMessage === 'string'
  );
}

export function encodeError(err: unknown): WireError {
  if (isConnectError(err)) {
    const metadata: [string, string][] = [];
    err.metadata.forEach((v, k) => void metadata.push([k, v]));
    return { name: 'ConnectError', message: err.rawMessage, fields: { code: err.code, metadata } };
  }
  if (!(err instanceof Error)) return { name: 'Error', message: String(err), fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err)) {
    if (k === 'name' || k === 'stack' || k === 'cause') continue;
    if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) fields[k] = v;
  }
  return { name: err.name, message: err.message, fields };
}

/**
 * A key-value as plain data: only own enumerable fields cross a MessagePort, so a representation
 * with getters (a compact store) must be copied field by field first.
 */
export function plainKv(kv: KeyValue): KeyValue {
  return { key: kv.key, value: kv.value, create: kv.create, mod: kv.mod, version: kv.version };
}

export function plainBatch(b: WatchBatch): WatchBatch {
  return {
    revision: b.revision,
    events: b.events.map((e) => ({
      type: e.type,
      kv: plainKv(e.kv),
      ...(e.prev === undefined ? {} : { prev: plainKv(e.prev) }),
    })),
    ...(b.fragment === true ? { fragment: true } : {}),
  };
}

/** Most bytes of answers the node's thread copies in one postMessage (turn-batch.ts, SendBudget). */
export const ANSWER_SEND_MAX_BYTES = 4 * 1024 * 1024;

type Kvish = { readonly key?: unknown; readonly value?: unknown };
const kvBytes = (kv: Kvish | undefined): number =>
  kv === undefined
    ? 0
    : (typeof kv.key === 'string' ? kv.key.length : 0) + (typeof kv.value === 'string' ? kv.value.length : 0);
const kvsBytes = (kvs: unknown): number =>
  Array.isArray(kvs) ? kvs.reduce((n: number, kv: Kvish) => n + kvBytes(kv), 0) : 0;

/**
 * About what a message to the API thread costs to copy: the keys and values it carries (a Get's
 * value, a Range's or a Txn's key-values, a watch batch's events), in UTF-16 units; 0 for the rest.
 */
export function answerBytes(m: ToApi): number {
  if (m.t === 'wbatch') return m.b.events.reduce((n, e) => n + kvBytes(e.kv) + kvBytes(e.prev), 0);
  if (m.t !== 'ok' || typeof m.v !== 'object' || m.v === null) return 0;
  const v = m.v as { value?: unknown; kvs?: unknown; results?: unknown };
  let n = typeof v.value === 'string' ? v.value.length : 0;
  n += kvsBytes(v.kvs);
  if (Array.isArray(v.results))
    for (const r of v.results as { kvs?: unknown; kv?: Kvish }[]) n += kvsBytes(r.kvs) + kvBytes(r.kv);
  return n;
}
