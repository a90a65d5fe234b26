// The node's side of the API thread's port: runs each call on the node (KvBackend, ClusterBackend)
// and posts the answer; runs watchers and feeds their batches under flow control. Everything here
// is a short task on the node's thread: the parsing, connections and protocol work stay on the API
// thread.
import type { KvBackend, GetRequest, GetResult, PutRequest, PutResult, RangeResult, TxnResult } from '../backend.ts';
import type { ClusterBackend } from '../cluster-backend.ts';
import type { WatchStream } from '../backend.ts';
import { eventBytes, type WatchBatch } from '../../kv/watcher.ts';
import { decodeCommand } from '../../kv/command.ts';
import { PutAnswers, readPutPack } from './put-pack.ts';
import {
  CLUSTER_OPS,
  CODE_DEADLINE_EXCEEDED,
  encodeError,
  plainBatch,
  plainKv,
  WATCH_WINDOW,
  WATCH_WINDOW_BYTES,
  type CallOp,
  type ToApi,
  type ToNode,
} from './protocol.ts';

interface WatchState {
  readonly stream: WatchStream;
  readonly it: AsyncIterator<unknown>;
  credit: number;
  /** Sizes of the batches sent and not yet acknowledged, oldest first (acknowledged in order). */
  readonly unacked: number[];
  /** Their sum: a new batch is taken only while it is under WATCH_WINDOW_BYTES. */
  unackedBytes: number;
  pumping: boolean;
  ended: boolean;
}

/** What a batch costs the API thread, as the hub counts it (kv/watcher.ts eventBytes). */
function batchBytes(b: WatchBatch): number {
  let n = 0;
  for (const e of b.events) n += eventBytes(e);
  return n;
}

const CLUSTER = new Set<string>(CLUSTER_OPS);

export class NodeSide {
  readonly #calls = new Map<number, AbortController>();
  readonly #watches = new Map<number, WatchState>();
  readonly #putAnswers = new PutAnswers();

  constructor(
    private readonly backend: KvBackend,
    private readonly cluster: ClusterBackend | undefined,
    private readonly post: (m: ToApi) => void,
  ) {}

  /** Handles one message; false if it is not a call (the caller handles lifecycle messages). */
  handle(m: ToNode): boolean {
    switch (m.t) {
      case 'get':
        this.#get(m.id, m.req, m.timeoutMs);
        return true;
      case 'put':
        this.#put(m.id, m.req, m.timeoutMs);
        return true;
      case 'puts':
        readPutPack(m.b, this.#putCommand);
        return true;
      case 'call':
        this.#call(m.id, m.op, m.args);
        return true;
      case 'cancel':
        this.#calls.get(m.id)?.abort();
        return true;
      case 'watch':
        this.#watch(m.id, m);
        return true;
      case 'wnext': {
        const w = this.#watches.get(m.id);
        if (w !== undefined) {
          w.credit++;
          w.unackedBytes -= w.unacked.shift() ?? 0;
          this.#pump(m.id, w);
        }
        return true;
      }
      case 'wcancel':
        this.#endWatch(m.id, null);
        return true;
      default:
        return false;
    }
  }

  /** The turn's answers are being sent (host.ts, before each send): Put answers after this go in a new message. */
  sealAnswers(): void {
    this.#putAnswers.seal();
  }

  /** The API thread is gone: every call and watcher ends. */
  closeAll(): void {
    for (const c of this.#calls.values()) c.abort();
    this.#calls.clear();
    for (const id of [...this.#watches.keys()]) this.#endWatch(id, null, false);
  }

  #get(id: number, req: GetRequest, timeoutMs: number): void {
    // The lease read: answered in this task, from memory (no promise, timer or signal).
    let now: GetResult | null = null;
    try {
      now = this.backend.getNow?.(req) ?? null;
    } catch (e) {
      this.post({ t: 'err', id, e: encodeError(e) });
      return;
    }
    if (now !== null) {
      this.post({ t: 'ok', id, v: now });
      return;
    }
    // Otherwise like ApiCore.call would: deadline_exceeded once the deadline passes.
    this.#bounded(id, timeoutMs, (signal) => this.backend.get(req, signal));
  }

  #put(id: number, req: PutRequest, timeoutMs: number): void {
    const quick = this.backend.putQuick;
    if (quick === undefined) return this.#bounded(id, timeoutMs, (signal) => this.backend.put(req, signal));
    // The node applies the deadline itself: no AbortController, timer or listener here.
    let p: Promise<unknown>;
    try {
      p = quick.call(this.backend, req, timeoutMs);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (v) => this.#putOk(id, v as PutResult),
      (e: unknown) => this.post({ t: 'err', id, e: encodeError(e) }),
    );
  }

  /** A packed Put (put-pack.ts): its command's bytes go to the node as they are. */
  readonly #putCommand = (id: number, timeoutMs: number, cmd: Uint8Array): void => {
    const put = this.backend.putCommand;
    if (put === undefined) {
      // A backend without it (a test's): the Put as an object. The API thread packs only valid puts.
      const c = decodeCommand(cmd);
      if (c.op !== 'put') throw new Error(`a packed Put holds ${c.op}`);
      return this.#put(id, { key: c.key, value: c.value }, timeoutMs);
    }
    put.call(this.backend, cmd, timeoutMs, (err, r) =>
      r !== null ? this.#putOk(id, r) : this.post({ t: 'err', id, e: encodeError(err) }),
    );
  };

  #putOk(id: number, r: PutResult): void {
    const opened = this.#putAnswers.add(id, r.index, r.revision);
    if (opened !== null) this.post(opened);
  }

  /** Runs `work` and answers it, or deadline_exceeded once timeoutMs passes (then `work` is aborted). */
  #bounded(id: number, timeoutMs: number, work: (signal: AbortSignal) => Promise<unknown>): void {
    const ctrl = new AbortController();
    this.#calls.set(id, ctrl);
    let done = false;
    const answer = (m: ToApi): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.#calls.delete(id);
      this.post(m);
    };
    const timer = setTimeout(() => {
      answer({
        t: 'err',
        id,
        e: {
          name: 'ConnectError',
          message: `deadline of ${timeoutMs} ms exceeded`,
          fields: { code: CODE_DEADLINE_EXCEEDED, metadata: [] },
        },
      });
      ctrl.abort();
    }, timeoutMs);
    work(ctrl.signal).then(
      (v) => answer({ t: 'ok', id, v }),
      (e: unknown) => answer({ t: 'err', id, e: encodeError(e) }),
    );
  }

  #call(id: number, op: CallOp, args: readonly unknown[]): void {
    const target = (CLUSTER.has(op) ? this.cluster : this.backend) as unknown as Record<string, unknown> | undefined;
    const fn = target?.[op];
    if (typeof fn !== 'function') {
      this.post({ t: 'err', id, e: { name: 'Error', message: `no such call: ${op}`, fields: {} } });
      return;
    }
    const ctrl = new AbortController();
    this.#calls.set(id, ctrl);
    let p: Promise<unknown>;
    try {
      p = Promise.resolve((fn as (...a: unknown[]) => unknown).apply(target, [...args, ctrl.signal]));
    } catch (e) {
      p = Promise.reject(e);
    }
    this.#settle(id, p, op);
  }

  #settle(id: number, p: Promise<unknown>, op: CallOp | null): void {
    p.then(
      (v) => {
        this.#calls.delete(id);
        this.post({ t: 'ok', id, v: plainResult(op, v) });
      },
      (e: unknown) => {
        this.#calls.delete(id);
        this.post({ t: 'err', id, e: encodeError(e) });
      },
    );
  }

  #watch(id: number, m: Extract<ToNode, { t: 'watch' }>): void {
    let stream: WatchStream;
    try {
      stream = this.backend.watch(m.req);
    } catch (e) {
      this.post({ t: 'wend', id, e: encodeError(e) });
      return;
    }
    const w: WatchState = {
      stream,
      it: stream[Symbol.asyncIterator](),
      credit: WATCH_WINDOW,
      unacked: [],
      unackedBytes: 0,
      pumping: false,
      ended: false,
    };
    this.#watches.set(id, w);
    this.#pump(id, w);
  }

  /**
   * Sends batches while the API thread has room for them (WATCH_WINDOW batches, WATCH_WINDOW_BYTES);
   * what waits meanwhile stays in the hub, whose own bound (maxPendingBytes) cuts off a slow reader.
   */
  #pump(id: number, w: WatchState): void {
    if (w.pumping || w.ended) return;
    w.pumping = true;
    void (async () => {
      try {
        while (w.credit > 0 && w.unackedBytes < WATCH_WINDOW_BYTES && !w.ended) {
          const r = await w.it.next();
          if (w.ended) return;
          if (r.done === true) return this.#endWatch(id, null);
          const b = r.value as WatchBatch;
          const bytes = batchBytes(b);
          w.credit--;
          w.unacked.push(bytes);
          w.unackedBytes += bytes;
          this.post({ t: 'wbatch', id, b: plainBatch(b) });
        }
      } catch (e) {
        this.#endWatch(id, e);
      } finally {
        w.pumping = false;
      }
    })();
  }

  #endWatch(id: number, err: unknown, tell = true): void {
    const w = this.#watches.get(id);
    if (w === undefined) return;
    this.#watches.delete(id);
    w.ended = true;
    w.stream.cancel();
    if (tell) this.post({ t: 'wend', id, e: err === null ? null : encodeError(err) });
  }
}

/** Key-values in answers as plain data (protocol.ts, plainKv). */
function plainResult(op: CallOp | null, v: unknown): unknown {
  if (op === 'range') {
    const r = v as RangeResult;
    return { ...r, kvs: r.kvs.map(plainKv) };
  }
  if (op === 'txn') {
    const r = v as TxnResult;
    return {
      ...r,
      results: r.results.map((o) =>
        o.op === 'get'
          ? { op: 'get', ...(o.kv === undefined ? {} : { kv: plainKv(o.kv) }) }
          : o.op === 'range'
            ? { ...o, kvs: o.kvs.map(plainKv) }
            : o,
      ),
    };
  }
  return v;
}
