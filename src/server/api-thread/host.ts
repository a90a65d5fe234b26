// Starting and stopping the client API thread from the node's thread (docs/design.md, "Threads").
import { Worker } from 'node:worker_threads';
import type { ApiServerOptions } from '../api/server.ts';
import type { AuthBackend } from '../auth/backend.ts';
import type { AuthGateSettings } from '../auth/gate.ts';
import { resolveLimits } from '../api/limits.ts';
import { startAdminServer } from './admin-server.ts';
import { NodeSide } from './node-side.ts';
import { ANSWER_SEND_MAX_BYTES, answerBytes, type ApiThreadData, type ToApi, type ToNode } from './protocol.ts';
import { newStatsBuffer, readStats, type ApiThreadStats } from './stats.ts';
import { TurnBatch } from './turn-batch.ts';
import { threadMemoryBuffer } from '../../util/thread-memory.ts';
import { workerBootCode } from '../../util/worker-boot.ts';

/** The API server's own options (api/server.ts), less the auth gate, which the thread builds itself. */
export interface ApiThreadOptions extends Pick<
  ApiServerOptions,
  | 'host'
  | 'port'
  | 'backend'
  | 'cluster'
  | 'limits'
  | 'logger'
  | 'extraRoutes'
  | 'fastPath'
  | 'http1Framing'
  | 'tls'
  | 'allowedHosts'
> {
  /**
   * Users and roles (issue 15): the API thread runs its own gate over a copy of the node's auth
   * table, sent again whenever the table changes: checked before every answer, at once when
   * `onAuthChange` tells of a change, and every AUTH_SYNC_MS (AUTH_BACKSTOP_MS with onAuthChange).
   */
  readonly authConfig?: AuthGateSettings;
  readonly authBackend?: AuthBackend;
  /** Subscribes a listener told (on the node's thread) when the auth table changed; returns the unsubscribe. */
  readonly onAuthChange?: (listener: () => void) => () => void;
  /**
   * The node's shared lease view (LeaseKvNode.shareLeaseView): the API thread then answers lease
   * reads of values it already got without a message (local-reads.ts).
   */
  readonly leaseView?: SharedArrayBuffer;
  /** Told once if the API thread dies while the node runs (the node cannot serve clients any more). */
  readonly onFailure?: (err: Error) => void;
}

/** What the node holds of its client API, in this thread or another. */
export interface ClientApi {
  readonly port: number;
  /** Stops serving; with drainMs, first waits (at most that long) for requests in flight to be answered. */
  close(opts?: { drainMs?: number }): Promise<void>;
}

export interface ApiThread extends ClientApi {
  /** The API thread's counters and loop lag (shared memory; at most STATS_INTERVAL_MS old). */
  stats(): ApiThreadStats;
  /** Hands the TLS material in force now (after a reload) to the API thread: new connections use it. */
  reloadTls(): void;
}

/** How often the node's auth table is checked for changes when no answer is being sent, without onAuthChange. */
const AUTH_SYNC_MS = 20;

/**
 * With onAuthChange, a change is sent at once and this check only backs it up: it no longer wakes
 * the node's thread 50 times a second, auth on or off (session 9, docs/benchmarks.md "Idle cost").
 */
const AUTH_BACKSTOP_MS = 1000;

/** How long close() waits for the API thread to finish its own close beyond the drain. */
const CLOSE_GRACE_MS = 2000;

/**
 * The API thread's young generation (V8 gives two semi-spaces of a third each). V8's default lets
 * it grow to 32 MiB semi-spaces under load and stay resident (docs/storage.md, "Memory"); requests
 * are short-lived, so a smaller one costs more frequent, cheap scavenges.
 */
const API_THREAD_YOUNG_GENERATION_MB = 12;

function bootCode(): string {
  return workerBootCode(import.meta.url, './worker.ts');
}

/**
 * Starts the API thread's worker, which loads its modules (the HTTP, gRPC and Connect stacks: a
 * second or more on a loaded machine) and then waits for startApiThread. Started early, while the
 * node opens its storage, so that the node is not slower to serve. The caller terminates it if it
 * never calls startApiThread.
 */
export function spawnApiThread(): Worker {
  return new Worker(bootCode(), {
    eval: true,
    workerData: { threadMemory: threadMemoryBuffer('api') },
    resourceLimits: { maxYoungGenerationSizeMb: API_THREAD_YOUNG_GENERATION_MB },
  });
}

export async function startApiThread(opts: ApiThreadOptions, worker: Worker = spawnApiThread()): Promise<ApiThread> {
  const limits = resolveLimits(opts.limits);
  const routes = opts.extraRoutes ?? [];
  let admin;
  try {
    admin = await startAdminServer(routes);
  } catch (e) {
    await worker.terminate();
    throw e;
  }
  const stats = newStatsBuffer();
  const data: ApiThreadData = {
    host: opts.host,
    port: opts.port,
    limits,
    fastPath: opts.fastPath !== false,
    http1Framing: opts.http1Framing !== false,
    allowedHosts: opts.allowedHosts ?? null,
    withCluster: opts.cluster !== undefined,
    routes: routes.map((r) => ({ method: r.method, path: r.path })),
    adminSocket: admin.socketPath,
    stats,
    leaseView: opts.leaseView ?? null,
    tls: opts.tls?.current() ?? null,
    auth:
      opts.authBackend === undefined || opts.authConfig === undefined
        ? null
        : { ...opts.authConfig, table: opts.authBackend.authTable().encode() },
  };
  // The auth table the API thread has: sent again (before the message at hand) once it changed.
  const authBackend = opts.authBackend;
  let sentTable = authBackend?.authTable();
  let sentVersion = sentTable?.version ?? 0;
  const syncAuth = (): void => {
    if (authBackend === undefined || data.auth === null) return;
    const t = authBackend.authTable();
    if (t === sentTable && t.version === sentVersion) return;
    sentTable = t;
    sentVersion = t.version;
    worker.postMessage({ t: 'auth', table: t.encode() } satisfies ToApi);
  };
  const unsubscribe = opts.onAuthChange?.(syncAuth) ?? ((): void => undefined);
  const authTimer = setInterval(syncAuth, opts.onAuthChange === undefined ? AUTH_SYNC_MS : AUTH_BACKSTOP_MS);
  authTimer.unref();
  // Answers go out together once this task's microtasks have run (an apply resolves many writes at
  // once; turn-batch.ts), each send behind the auth table it needs, the turn's Put answers packed
  // (put-pack.ts); lifecycle messages at once.
  // Large answers go out in parts of ANSWER_SEND_MAX_BYTES with a turn of the loop between them, so
  // that copying them never holds the lease's timers for long (turn-batch.ts, SendBudget).
  const beforeSend = (): void => {
    side.sealAnswers();
    syncAuth();
  };
  const out = new TurnBatch<ToApi>((m) => worker.postMessage(m), 'microtask', beforeSend, {
    bytesOf: answerBytes,
    maxBytes: ANSWER_SEND_MAX_BYTES,
  });
  const post = (m: ToApi): void => out.now(m);
  const side = new NodeSide(opts.backend, opts.cluster, (m) => out.push(m));
  let state: 'starting' | 'running' | 'closing' | 'gone' = 'starting';
  let onClosed: (() => void) | null = null;
  post({ t: 'start', data });
  const started = new Promise<number>((resolve, reject) => {
    const fail = (err: Error): void => {
      side.closeAll();
      if (state === 'starting') reject(err);
      else if (state === 'running') {
        opts.logger?.error({ err }, `the client API thread failed: ${err.message}`);
        opts.onFailure?.(err);
      }
      state = 'gone';
      onClosed?.();
    };
    const onMessage = (m: ToNode): void => {
      if (side.handle(m)) return;
      if (m.t === 'log') opts.logger?.[m.level](m.obj, m.msg);
      else if (m.t === 'listening') {
        state = 'running';
        resolve(m.port);
      } else if (m.t === 'failed') fail(new Error(m.message));
      else if (m.t === 'closed') onClosed?.();
    };
    worker.on('message', (m: ToNode) => {
      if (m.t === 'batch') for (const one of m.ms) onMessage(one);
      else onMessage(m);
    });
    worker.on('error', (e) => fail(e));
    worker.on('exit', (code) => {
      if (state !== 'gone' && state !== 'closing') fail(new Error(`the client API thread exited with code ${code}`));
      state = 'gone';
      onClosed?.();
    });
  });
  let port: number;
  try {
    port = await started;
  } catch (e) {
    clearInterval(authTimer);
    unsubscribe();
    await worker.terminate();
    await admin.close();
    throw e;
  }
  let closing: Promise<void> | undefined;
  const close = (o: { drainMs?: number } = {}): Promise<void> =>
    (closing ??= (async () => {
      if (state === 'running') {
        state = 'closing';
        const closed = new Promise<void>((resolve) => {
          onClosed = resolve;
          setTimeout(resolve, (o.drainMs ?? 0) + CLOSE_GRACE_MS).unref();
        });
        post({ t: 'close', drainMs: o.drainMs });
        await closed;
      }
      state = 'gone';
      clearInterval(authTimer);
      unsubscribe();
      side.closeAll();
      await worker.terminate();
      await admin.close();
    })());
  const reloadTls = (): void => {
    if (opts.tls !== undefined && state === 'running') post({ t: 'tls', material: opts.tls.current() });
  };
  return { port, close, stats: () => readStats(stats), reloadTls };
}
