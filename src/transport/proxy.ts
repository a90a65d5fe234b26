// A fault-injecting TCP proxy for tests and benchmarks: forwards client → target and back, delaying
// every chunk by a one-way delay (order preserved), or cutting everything off (partition).
//
// Delay: each chunk is stamped due = max(arrival + delayMs, previous due) and written when due; one
// timer per direction serves the queue head, so thousands of small chunks per second cost one timer
// each turn, not one each. Blocked: open connections are destroyed and new ones closed at once.
//
// CLI: node --import tsx src/transport/proxy.ts --listen HOST:PORT --target HOST:PORT [--delay-ms D]
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface ProxyOptions {
  readonly listenHost: string;
  /** 0 = ephemeral (see ProxyHandle.port). */
  readonly listenPort: number;
  readonly targetHost: string;
  readonly targetPort: number;
  readonly delayMs?: number;
}

export interface ProxyHandle {
  readonly port: number;
  setDelayMs(oneWayMs: number): void;
  setBlocked(blocked: boolean): void;
  /** Connections currently open through the proxy. */
  readonly connections: number;
  close(): Promise<void>;
}

/** Above this many bytes waiting in one direction, the sender is paused (bounded memory). */
const MAX_PENDING_BYTES = 64 * 1024 * 1024;

class DelayedPipe {
  private readonly queue: { chunk: Buffer; dueMs: number }[] = [];
  private head = 0;
  private pendingBytes = 0;
  private lastDueMs = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly src: Socket,
    private readonly dst: Socket,
    private readonly delayMs: () => number,
    /** false until dst is connected: chunks wait (their delay still counts from arrival). */
    private dstReady: boolean,
  ) {
    src.on('data', (chunk: Buffer) => this.push(chunk));
    dst.on('drain', () => this.src.resume());
  }

  markReady(): void {
    this.dstReady = true;
    this.pump();
  }

  private push(chunk: Buffer): void {
    const dueMs = Math.max(performance.now() + this.delayMs(), this.lastDueMs);
    this.lastDueMs = dueMs;
    this.queue.push({ chunk, dueMs });
    this.pendingBytes += chunk.length;
    if (this.pendingBytes > MAX_PENDING_BYTES) this.src.pause();
    if (this.timer === null) this.pump();
  }

  private pump(): void {
    this.timer = null;
    if (!this.dstReady || this.dst.destroyed) return;
    const now = performance.now();
    while (this.head < this.queue.length) {
      const item = this.queue[this.head] as { chunk: Buffer; dueMs: number };
      if (item.dueMs > now) {
        this.timer = setTimeout(() => this.pump(), Math.max(1, Math.ceil(item.dueMs - now)));
        break;
      }
      this.head++;
      this.pendingBytes -= item.chunk.length;
      if (!this.dst.write(item.chunk)) this.src.pause(); // resumed on drain
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (this.pendingBytes <= MAX_PENDING_BYTES / 2 && !this.dst.writableNeedDrain) this.src.resume();
  }

  /** Forwards what remains once due, then ends dst (a half-close travels with the same delay). */
  endAfterQueue(): void {
    const finish = (): void => {
      if (this.dst.destroyed) return;
      if (this.head < this.queue.length || !this.dstReady) {
        setTimeout(finish, 1);
        return;
      }
      this.dst.end();
    };
    finish();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
    this.head = 0;
  }
}

export async function startProxy(o: ProxyOptions): Promise<ProxyHandle> {
  let delayMs = o.delayMs ?? 0;
  let blocked = false;
  const open = new Set<Socket>();
  const assertDelay = (d: number): void => {
    if (!Number.isFinite(d) || d < 0 || d > 600_000) throw new RangeError(`delay must be in [0, 600000] ms: ${d}`);
  };
  assertDelay(delayMs);

  // Half-open allowed: a FIN travels through the proxy with the same delay as the data before it.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    if (blocked) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: o.targetHost, port: o.targetPort, allowHalfOpen: true });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    open.add(client);
    open.add(upstream);
    const getDelay = (): number => delayMs;
    const up = new DelayedPipe(client, upstream, getDelay, false);
    const down = new DelayedPipe(upstream, client, getDelay, true);
    upstream.once('connect', () => up.markReady());
    const teardown = (): void => {
      up.stop();
      down.stop();
      client.destroy();
      upstream.destroy();
    };
    client.on('end', () => up.endAfterQueue());
    upstream.on('end', () => down.endAfterQueue());
    client.on('error', teardown);
    upstream.on('error', teardown);
    client.on('close', () => {
      open.delete(client);
      down.stop(); // nothing more can reach the client; upstream is ended by up.endAfterQueue
      if (!client.readableEnded) teardown(); // closed without a FIN (reset): cut both sides
    });
    upstream.on('close', () => {
      open.delete(upstream);
      up.stop();
      if (!upstream.readableEnded) teardown();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.listenPort, o.listenHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : o.listenPort;

  return {
    port,
    get connections() {
      return open.size;
    },
    setDelayMs(d: number): void {
      assertDelay(d);
      delayMs = d;
    },
    setBlocked(b: boolean): void {
      blocked = b;
      if (b) for (const s of open) s.destroy();
    },
    async close(): Promise<void> {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------- CLI

function parseHostPort(s: string | undefined, flag: string): { host: string; port: number } {
  const m = s === undefined ? null : /^(.*):(\d+)$/.exec(s);
  if (m === null) throw new Error(`${flag} needs HOST:PORT, got ${String(s)}`);
  const host = (m[1] as string).replace(/^\[(.*)\]$/, '$1'); // [::1]:80 → ::1
  return { host, port: Number(m[2]) };
}

export async function runProxyCli(argv: readonly string[]): Promise<ProxyHandle> {
  const arg = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const listen = parseHostPort(arg('--listen'), '--listen');
  const target = parseHostPort(arg('--target'), '--target');
  const delayMs = Number(arg('--delay-ms') ?? '0');
  const p = await startProxy({
    listenHost: listen.host,
    listenPort: listen.port,
    targetHost: target.host,
    targetPort: target.port,
    delayMs,
  });
  console.log(`proxy ${listen.host}:${p.port} -> ${target.host}:${target.port}, one-way delay ${delayMs} ms`);
  return p;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  runProxyCli(process.argv.slice(2)).then(
    (p) => {
      const stop = (): void => void p.close().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (e: unknown) => {
      console.error(String(e instanceof Error ? e.message : e));
      process.exit(2);
    },
  );
}
