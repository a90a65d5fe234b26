// The fault proxy of one peer link under `leasekv up` (transport/proxy.ts), behind a gate: it
// listens only once its target (the node behind it) has accepted a connection.
//
// Why: a proxy listening before its node does accepts the first dials of the other nodes and then
// resets them (its own connect upstream is refused). A node's transport warns about a reset before
// the first handshake — it cannot tell one from a TLS/plaintext mismatch (transport/tls.test.ts) —
// so every first start of `up` printed 2–3 WARN lines about peers. While the gate is closed a dial
// is refused instead, which the transport logs at info level for its first 10 s, exactly as a
// direct dial to a node not yet listening (NOT_YET_LISTENING_GRACE_MS in transport/options.ts).
//
// Once open, the gate stays open: a target stopped later is accept-then-reset again, which is right
// to warn about then (the link had worked). The probe is a bare connect, closed at once; a node's
// peer port closes such a connection quietly (no byte, no handshake, nothing to refuse).
import { createConnection, createServer } from 'node:net';
import { startProxy, type ProxyHandle } from '../transport/proxy.ts';

export interface GatedProxyOptions {
  readonly listenHost: string;
  /** 0: a free port, picked now (the port is known before the gate opens). */
  readonly listenPort: number;
  readonly targetHost: string;
  readonly targetPort: number;
  /** Pause between probes of the target while the gate is closed. Default 100 ms. */
  readonly probeIntervalMs?: number;
}

export interface GatedProxy {
  /** The port it listens on once open (known, and fixed, from the start). */
  readonly port: number;
  /** Whether the gate has opened (the proxy listens). */
  readonly open: boolean;
  /** Connections currently open through the proxy (0 while closed). */
  readonly connections: number;
  /** Blocked: open connections are cut and new ones closed at once (kept across the gate opening). */
  setBlocked(blocked: boolean): void;
  /** Stops probing, and the proxy if open. */
  close(): Promise<void>;
}

/** Binds the port and lets it go: fails now if it is taken, and gives the OS's pick for port 0. */
async function reservePort(host: string, port: number): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const got = typeof addr === 'object' && addr !== null ? addr.port : port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return got;
}

/** Whether HOST:PORT accepts a TCP connection now (the connection is closed at once). */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}

/** Starts the gate; the proxy already listens on return if the target accepts now. */
export async function startGatedProxy(o: GatedProxyOptions): Promise<GatedProxy> {
  const port = await reservePort(o.listenHost, o.listenPort);
  const intervalMs = o.probeIntervalMs ?? 100;
  let inner: ProxyHandle | null = null;
  let blocked = false;
  let closed = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();

  const attempt = async (): Promise<void> => {
    timer = null;
    if (closed) return;
    if (await accepts(o.targetHost, o.targetPort)) {
      try {
        const p = await startProxy({ ...o, listenPort: port });
        if (closed) return void (await p.close());
        p.setBlocked(blocked);
        inner = p;
        return;
      } catch {
        // The port was taken between the reservation and now (another process): try again later;
        // meanwhile the nodes see refusals, and warn about them after their grace period.
      }
    }
    if (!closed) timer = setTimeout(() => (running = attempt()), intervalMs);
  };
  await (running = attempt());

  return {
    port,
    get open() {
      return inner !== null;
    },
    get connections() {
      return inner?.connections ?? 0;
    },
    setBlocked(b: boolean): void {
      blocked = b;
      inner?.setBlocked(b);
    },
    async close(): Promise<void> {
      closed = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await running; // an attempt under way sees `closed` and lets its proxy go
      await inner?.close();
      inner = null;
    },
  };
}
