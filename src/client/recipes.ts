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
  /** Gives up waiting: lock() rejects with code canceled and removes the contender's key. */
  readonly signal?: AbortSignal;
}

export interface LockHandle {
  readonly key: string;
  /** The create revision of the holder's key: larger for every later holder. */
  readonly fencingToken: number;
  readonly ttlId: number;
  /** Resolves with an error if the grant is lost while held (the holder must stop acting). */
  readonly lost: Promise<Error>;
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
  const g = await client.ttlGrant(ttlMs);
  const keepAlive = new AbortController();
  let lostResolve: (e: Error) => void = () => undefined;
  const lost = new Promise<Error>((resolve) => (lostResolve = resolve));
  void client.ttlKeepAliveLoop(g.id, ttlMs, keepAlive.signal).then(
    () => undefined,
    (e: unknown) => lostResolve(e instanceof Error ? e : new Error(String(e))),
  );
  const key = `${prefix}${padId(g.id)}`;
  const release = async (): Promise<void> => {
    keepAlive.abort();
    try {
      await client.ttlRevoke(g.id);
    } catch {
      // The grant ends by itself within its TTL.
    }
  };
  try {
    const put = await client.put(key, opts.value ?? '', { ttlId: g.id });
    const mine = put.revision;
    for (;;) {
      if (opts.signal?.aborted === true) throw new LeasekvError('canceled', `lock ${name}: canceled while waiting`);
      const r = await client.range(prefix, { limit: MAX_CONTENDERS });
      let pred: KeyValue | undefined;
      for (const kv of r.kvs)
        if (kv.createRevision < mine && (pred === undefined || kv.createRevision > pred.createRevision)) pred = kv;
      if (pred === undefined) break;
      await waitDeleted(client, pred.key, r.revision + 1, opts.signal);
    }
    return { key, fencingToken: mine, ttlId: g.id, lost, unlock: release };
  } catch (err) {
    await release();
    throw err;
  }
}

async function waitDeleted(
  client: LeasekvClient,
  key: string,
  from: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const r of client.watch(key, { startRevision: from, signal: stop.signal })) {
      if (r.events.some((e) => e.type === 'DELETE')) return;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    stop.abort();
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
