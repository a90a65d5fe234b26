// Recipes on TTL grants, revisions and watch (issue 14): a mutex with a fencing token, and leader
// election — the shapes of etcd's concurrency package.
//
// Mutex NAME: each contender makes a TTL grant, keeps it alive, and puts NAME/<grant id> attached
// to it. Its key's create revision orders it: it holds the lock when no key under NAME/ has a
// smaller create revision; until then it waits (watch) for the deletion of the key just before it.
// A holder that dies stops its keep-alives; its grant ends (never before the TTL after its last
// keep-alive) and its key goes, which wakes the next one. The fencing token is the holder's create
// revision: it only grows from one holder to the next, so a resource that remembers the largest
// token it has seen can refuse a stale holder that still thinks it holds the lock.
import type { LeasekvClient } from './client.ts';
import { LeasekvError } from './errors.ts';
import type { KeyValue } from './types.ts';

export interface LockOptions {
  /** TTL of the contender's grant (default 10000): how long a dead holder blocks the others. */
  readonly ttlMs?: number;
  /** Stored in the contender's key (an election's candidate value). */
  readonly value?: string;
  /**
   * Gives up, in any phase (the grant, the put, waiting): lock() rejects with code canceled and
   * removes the contender's key.
   */
  readonly signal?: AbortSignal;
}

export interface LockHandle {
  readonly key: string;
  /** The create revision of the holder's key: larger for every later holder. */
  readonly fencingToken: number;
  readonly ttlId: number;
  /** Resolves with an error if the grant is lost while held (the holder must stop acting). */
  readonly lost: Promise<Error>;
  /**
   * Whether the lock is still known to be held, now: false once `lost` has fired, once unlock() was
   * called, and once the TTL has run out since the last keep-alive that got through was sent — as
   * after this process was paused (SIGSTOP, a long GC, a VM migration) for longer than the TTL, even
   * before the keep-alive loop has had the chance to notice. Ask it before acting as the holder;
   * the fencing token still guards against the pause between asking and acting.
   */
  held(): boolean;
  unlock(): Promise<void>;
}

/** Most contenders one lock looks at (one Range). */
const MAX_CONTENDERS = 10_000;

function padId(id: number): string {
  return String(id).padStart(16, '0');
}

export async function lock(client: LeasekvClient, name: string, opts: LockOptions = {}): Promise<LockHandle> {
  const ttlMs = opts.ttlMs ?? 10_000;
  const prefix = `${name}/`;
  const signal = opts.signal;
  const askedAt = performance.now();
  const g = await client.ttlGrant(ttlMs, signal === undefined ? {} : { signal });
  let aliveUntil = askedAt + ttlMs;
  let lostErr: Error | null = null;
  let released = false;
  // Aborted when the lock cannot be had any more: the caller's signal, or the grant lost while waiting.
  const stopWaiting = new AbortController();
  const keepAlive = new AbortController();
  let lostResolve: (e: Error) => void = () => undefined;
  const lost = new Promise<Error>((resolve) => (lostResolve = resolve));
  const loseWith = (e: Error): void => {
    if (lostErr !== null || released) return;
    lostErr = e;
    stopWaiting.abort();
    lostResolve(e);
  };
  void client
    .ttlKeepAliveLoop(g.id, ttlMs, keepAlive.signal, { sinceMs: askedAt, onAlive: (u) => (aliveUntil = u) })
    .then(
      () => undefined,
      (e: unknown) => loseWith(e instanceof Error ? e : new Error(String(e))),
    );
  const key = `${prefix}${padId(g.id)}`;
  const release = async (): Promise<void> => {
    released = true;
    keepAlive.abort();
    try {
      await client.ttlRevoke(g.id);
    } catch {
      // The grant ends by itself within its TTL.
    }
  };
  const onAbort = (): void => stopWaiting.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const check = (): void => {
    if (signal?.aborted === true) throw new LeasekvError('canceled', `lock ${name}: canceled while waiting`);
    if (lostErr !== null) throw new LeasekvError('unavailable', `lock ${name}: lost while waiting: ${lostErr.message}`);
  };
  try {
    const put = await client.put(key, opts.value ?? '', { ttlId: g.id, signal: stopWaiting.signal });
    const mine = put.revision;
    for (;;) {
      check();
      const r = await client.range(prefix, { limit: MAX_CONTENDERS, signal: stopWaiting.signal });
      // Our key gone (the grant ended while we waited, e.g. this process was paused): never hold.
      if (!r.more && !r.kvs.some((kv) => kv.key === key && kv.createRevision === mine))
        loseWith(new LeasekvError('unavailable', `lock ${name}: the contender's key ${key} is gone (its grant ended)`));
      check();
      let pred: KeyValue | undefined;
      for (const kv of r.kvs)
        if (kv.createRevision < mine && (pred === undefined || kv.createRevision > pred.createRevision)) pred = kv;
      if (pred === undefined) break;
      await waitDeleted(client, pred.key, r.revision + 1, stopWaiting.signal);
    }
    return {
      key,
      fencingToken: mine,
      ttlId: g.id,
      lost,
      held: () => lostErr === null && !released && performance.now() < aliveUntil,
      unlock: release,
    };
  } catch (err) {
    await release();
    if (err instanceof LeasekvError && err.code === 'canceled' && stopWaiting.signal.aborted) check();
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

async function waitDeleted(client: LeasekvClient, key: string, from: number, signal: AbortSignal): Promise<void> {
  for await (const r of client.watch(key, { startRevision: from, signal })) {
    if (r.events.some((e) => e.type === 'DELETE')) return;
  }
}

/** Election NAME: campaign = wait to hold the lock with `value`; the leader is the oldest contender. */
export function campaign(
  client: LeasekvClient,
  name: string,
  value: string,
  opts: Omit<LockOptions, 'value'> = {},
): Promise<LockHandle> {
  return lock(client, name, { ...opts, value });
}

/** The current leader of election NAME (the contender with the smallest create revision), if any. */
export async function leader(client: LeasekvClient, name: string): Promise<KeyValue | undefined> {
  const r = await client.range(`${name}/`, { limit: MAX_CONTENDERS });
  let best: KeyValue | undefined;
  for (const kv of r.kvs) if (best === undefined || kv.createRevision < best.createRevision) best = kv;
  return best;
}
