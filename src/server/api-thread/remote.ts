// The API thread's side of the port: a KvBackend and a ClusterBackend whose calls run on the
// node's thread (node-side.ts). An aborted call is forgotten here at once and cancelled there.
import type {
  CasRequest,
  CasResult,
  DeleteRequest,
  DeleteResult,
  GetRequest,
  GetResult,
  KvBackend,
  PutRequest,
  PutResult,
  RangeRequest,
  RangeResult,
  SessionRef,
  StatusResult,
  TtlGrantRequest,
  TtlGrantResult,
  TtlRevokeRequest,
  TtlRevokeResult,
  TxnRequest,
  TxnResult,
} from '../backend.ts';
import type {
  ChangeResult,
  ClusterBackend,
  MemberAddRequest,
  MemberListResult,
  MemberView,
} from '../cluster-backend.ts';
import type { WatchStream } from '../backend.ts';
import type { WatchBatch, WatchRequest } from '../watch/hub.ts';
import { Code, ConnectError } from '@connectrpc/connect';
import type { AuthBackend } from '../auth/backend.ts';
import type { AuthChange, AuthTable } from '../../kv/auth.ts';
import { TYPED_ERRORS } from '../api/errors.ts';
import { UnavailableError } from '../backend.ts';
import type { CallOp, ToApi, ToNode, WireError } from './protocol.ts';
import type { LocalReads } from './local-reads.ts';
import { PutPacker } from './put-pack.ts';

/** The error as the node's thread threw it: same class and fields (an unknown class: a plain Error, i.e. internal). */
export function decodeError(w: WireError): Error {
  if (w.name === 'ConnectError') {
    const code = typeof w.fields['code'] === 'number' ? (w.fields['code'] as Code) : Code.Internal;
    const metadata = Array.isArray(w.fields['metadata']) ? (w.fields['metadata'] as [string, string][]) : [];
    return new ConnectError(w.message, code, new Headers(metadata));
  }
  const cls = TYPED_ERRORS[w.name];
  if (cls === undefined) return new Error(w.message);
  const e = Object.create(cls.prototype) as Error;
  Object.assign(e, w.fields);
  Object.defineProperty(e, 'message', { value: w.message, writable: true, configurable: true });
  Object.defineProperty(e, 'stack', { value: `${w.name}: ${w.message}`, writable: true, configurable: true });
  if (e.name !== w.name) Object.defineProperty(e, 'name', { value: w.name, configurable: true });
  return e;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/** The requests that are answered by id ('ok' or 'err'). */
type Asked = Extract<ToNode, { readonly t: 'call' | 'get' | 'put' }>;

/** Calls to the node's thread, and the watchers fed from it. */
export class NodeLink {
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #watchers = new Map<number, RemoteWatch>();
  #closed = false;
  readonly #puts = new PutPacker();

  /**
   * `send` posts to the node's thread (the worker: one message per turn, turn-batch.ts, which must
   * call seal() before each send).
   */
  constructor(private readonly send: (m: ToNode) => void) {}

  /** The turn's messages are being sent: the packed Puts get their bytes (put-pack.ts). */
  seal(): void {
    this.#puts.seal();
  }

  post(m: ToNode): void {
    this.send(m);
  }

  /** Handles an answer; false for other messages. */
  handle(m: ToApi): boolean {
    switch (m.t) {
      case 'ok':
      case 'err': {
        const p = this.#pending.get(m.id);
        if (p === undefined) return true;
        this.#pending.delete(m.id);
        if (m.t === 'ok') p.resolve(m.v);
        else p.reject(decodeError(m.e));
        return true;
      }
      case 'putok': {
        const a = m.a;
        for (let i = 0; i + 2 < a.length; i += 3) {
          const id = a[i] as number;
          const p = this.#pending.get(id);
          if (p === undefined) continue;
          this.#pending.delete(id);
          p.resolve({ index: a[i + 1] as number, revision: a[i + 2] as number } satisfies PutResult);
        }
        return true;
      }
      case 'wbatch':
        this.#watchers.get(m.id)?.push(m.b);
        return true;
      case 'wend':
        this.#watchers.get(m.id)?.end(m.e);
        this.#watchers.delete(m.id);
        return true;
      default:
        return false;
    }
  }

  call<T>(op: CallOp, args: readonly unknown[], signal?: AbortSignal): Promise<T> {
    return this.#ask({ t: 'call', id: this.#nextId++, op, args }, signal);
  }

  get(req: GetRequest, timeoutMs: number): Promise<GetResult> {
    return this.#ask({ t: 'get', id: this.#nextId++, req, timeoutMs });
  }

  put(req: PutRequest, timeoutMs: number): Promise<PutResult> {
    if (req.ttl !== undefined || req.session !== undefined || this.#closed)
      return this.#ask({ t: 'put', id: this.#nextId++, req, timeoutMs });
    // A plain Put: packed with the turn's others, its command encoded here (put-pack.ts).
    const id = this.#nextId++;
    return new Promise<PutResult>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      const opened = this.#puts.add(id, timeoutMs, req.key, req.value);
      if (opened !== null) this.post(opened);
    });
  }

  /**
   * Posts a request and waits for its answer (handle()). Without a signal a request allocates only
   * its message, the promise and its Pending: the quick Get/Put path's cost per request (issue 16;
   * no listener or wrapper closures). An id taken by a request refused here is simply never used.
   */
  #ask<T>(m: Asked, signal?: AbortSignal): Promise<T> {
    if (this.#closed) return Promise.reject(new UnavailableError('node is stopping'));
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
    return new Promise<T>((resolve, reject) => {
      const settle = resolve as (v: unknown) => void;
      this.#pending.set(
        m.id,
        signal === undefined ? { resolve: settle, reject } : this.#abortable(m.id, signal, settle, reject),
      );
      this.post(m);
    });
  }

  /** A Pending that an abort of `signal` forgets here and cancels on the node's thread. */
  #abortable(id: number, signal: AbortSignal, resolve: (v: unknown) => void, reject: (e: Error) => void): Pending {
    const onAbort = (): void => {
      if (!this.#pending.delete(id)) return;
      this.post({ t: 'cancel', id });
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    return {
      resolve: (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      reject: (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    };
  }

  watch(req: WatchRequest): WatchStream {
    const id = this.#nextId++;
    const w = new RemoteWatch(
      () => this.post({ t: 'wnext', id }),
      () => {
        this.#watchers.delete(id);
        this.post({ t: 'wcancel', id });
      },
    );
    if (this.#closed) w.end({ name: 'WatcherClosedError', message: 'node is stopping', fields: {} });
    else {
      this.#watchers.set(id, w);
      this.post({ t: 'watch', id, req });
    }
    return w;
  }

  /** The node's thread is going away: everything waiting is answered unavailable. */
  close(): void {
    this.#closed = true;
    for (const p of this.#pending.values()) p.reject(new UnavailableError('node is stopping'));
    this.#pending.clear();
    for (const w of this.#watchers.values())
      w.end({ name: 'WatcherClosedError', message: 'node is stopping', fields: {} });
    this.#watchers.clear();
  }
}

/** A watcher whose batches come from the node's thread; each batch taken is acknowledged (flow control). */
class RemoteWatch implements WatchStream {
  readonly #queue: WatchBatch[] = [];
  #error: Error | null = null;
  #done = false;
  #wake: (() => void) | null = null;

  constructor(
    private readonly took: () => void,
    private readonly cancelled: () => void,
  ) {}

  push(b: WatchBatch): void {
    this.#queue.push(b);
    this.#wake?.();
  }

  end(e: WireError | null): void {
    if (this.#done) return;
    this.#done = true;
    if (e !== null) this.#error = decodeError(e);
    this.#wake?.();
  }

  cancel(): void {
    if (this.#done) return;
    this.#done = true;
    this.cancelled();
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchBatch> {
    for (;;) {
      const b = this.#queue.shift();
      if (b !== undefined) {
        yield b;
        // Acknowledged once the reader asks for the next one, i.e. has written this one out (the
        // SSE handler waits for drain; Connect for its write): until then the batch still costs
        // this thread its memory, and counts in the node's window (node-side.ts).
        if (!this.#done) this.took();
        continue;
      }
      if (this.#error !== null) throw this.#error;
      if (this.#done) return;
      await new Promise<void>((r) => (this.#wake = r));
      this.#wake = null;
    }
  }
}

/**
 * KvBackend over the port. With `local`, a lease read of a value the node already answered is
 * served on this thread while the node's shared view allows it (local-reads.ts), and every Get
 * answer the node sends is kept for that.
 */
export class RemoteBackend implements KvBackend {
  constructor(
    private readonly link: NodeLink,
    private readonly local: LocalReads | null = null,
  ) {}
  put(req: PutRequest, signal: AbortSignal): Promise<PutResult> {
    return this.link.call('put', [req], signal);
  }
  putQuick(req: PutRequest, timeoutMs: number): Promise<PutResult> {
    return this.link.put(req, timeoutMs);
  }
  getNow(req: GetRequest): GetResult | null {
    return this.local === null ? null : this.local.get(req);
  }
  get(req: GetRequest, signal: AbortSignal): Promise<GetResult> {
    const now = this.getNow(req);
    if (now !== null) return Promise.resolve(now);
    return this.#kept(req, this.link.call<GetResult>('get', [req], signal));
  }
  getQuick(req: GetRequest, timeoutMs: number): Promise<GetResult> {
    return this.#kept(req, this.link.get(req, timeoutMs));
  }
  #kept(req: GetRequest, p: Promise<GetResult>): Promise<GetResult> {
    const local = this.local;
    if (local === null) return p;
    return p.then((r) => {
      local.keep(req.key, r);
      return r;
    });
  }
  delete(req: DeleteRequest, signal: AbortSignal): Promise<DeleteResult> {
    return this.link.call('delete', [req], signal);
  }
  compareAndSwap(req: CasRequest, signal: AbortSignal): Promise<CasResult> {
    return this.link.call('compareAndSwap', [req], signal);
  }
  range(req: RangeRequest, signal: AbortSignal): Promise<RangeResult> {
    return this.link.call('range', [req], signal);
  }
  txn(req: TxnRequest, signal: AbortSignal): Promise<TxnResult> {
    return this.link.call('txn', [req], signal);
  }
  watch(req: WatchRequest): WatchStream {
    return this.link.watch(req);
  }
  ttlGrant(req: TtlGrantRequest, signal: AbortSignal): Promise<TtlGrantResult> {
    return this.link.call('ttlGrant', [req], signal);
  }
  ttlKeepAlive(id: number, signal: AbortSignal): Promise<{ readonly id: number; readonly ttlMs: number }> {
    return this.link.call('ttlKeepAlive', [id], signal);
  }
  ttlRevoke(req: TtlRevokeRequest, signal: AbortSignal): Promise<TtlRevokeResult> {
    return this.link.call('ttlRevoke', [req], signal);
  }
  compact(
    req: { readonly revision: number; readonly session?: SessionRef },
    signal: AbortSignal,
  ): Promise<{ compactRevision: number; index: number; revision: number }> {
    return this.link.call('compact', [req], signal);
  }
  status(): Promise<StatusResult> {
    return this.link.call('status', []);
  }
}

/** ClusterBackend over the port. */
export class RemoteCluster implements ClusterBackend {
  constructor(private readonly link: NodeLink) {}
  memberList(): Promise<MemberListResult> {
    return this.link.call('memberList', []);
  }
  memberAdd(req: MemberAddRequest, signal: AbortSignal): Promise<ChangeResult & { readonly member: MemberView }> {
    return this.link.call('memberAdd', [req], signal);
  }
  memberPromote(id: string, signal: AbortSignal): Promise<ChangeResult> {
    return this.link.call('memberPromote', [id], signal);
  }
  memberRemove(id: string, force: boolean, signal: AbortSignal): Promise<ChangeResult> {
    return this.link.call('memberRemove', [id, force], signal);
  }
  transferLeadership(target: string, signal: AbortSignal): Promise<{ readonly leader: string }> {
    return this.link.call('transferLeadership', [target], signal);
  }
}

/** AuthBackend: the table is the API thread's copy (host.ts keeps it current); changes go to the node. */
export class RemoteAuth implements AuthBackend {
  constructor(
    private readonly link: NodeLink,
    private readonly table: () => AuthTable,
  ) {}
  authTable(): AuthTable {
    return this.table();
  }
  authChange(change: AuthChange, signal: AbortSignal): Promise<{ index: number }> {
    return this.link.call('authChange', [change], signal);
  }
}
