// The attacks of `--scenario abuse` (issue 13), each against one node of a running cluster, each
// bounded in count and time, each answering with a one-line account of how the node answered it
// (status codes, resets, GOAWAY). They come from 127.0.0.2, another source address than the probe
// and the load (127.0.0.1), so that per-source limits meet the attacker and not the clients.
import { readdirSync, readlinkSync } from 'node:fs';
import { request } from 'node:http';
import { connect as h2connect, constants as h2c, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { sleep } from './procs.ts';

export const ATTACKER = '127.0.0.2';

/**
 * Sockets a process holds open (its /proc fd table), or -1 if unknown. The attacker's own count of
 * "connected" sockets overstates what the node holds: when the node's accept queue is full, the
 * kernel completes the client's side of the handshake and then drops the connection silently.
 */
export function socketsOf(pid: number | undefined): number {
  if (pid === undefined) return -1;
  try {
    const dir = `/proc/${pid}/fd`;
    return readdirSync(dir).filter((f) => {
      try {
        return readlinkSync(`${dir}/${f}`).startsWith('socket:');
      } catch {
        return false;
      }
    }).length;
  } catch {
    return -1;
  }
}

const nodeHolds = (before: number, now: number): string =>
  before < 0 || now < 0 ? '' : `; the node holds ${now - before} more sockets than before`;

/** Counts outcomes by label; prints them most frequent first. */
export class Tally {
  private readonly counts = new Map<string, number>();
  add(label: string, n = 1): void {
    this.counts.set(label, (this.counts.get(label) ?? 0) + n);
  }
  toString(): string {
    return [...this.counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${v}× ${k}`)
      .join(', ');
  }
}

export function codeOf(text: string): string {
  try {
    return (JSON.parse(text) as { code?: string }).code ?? 'ok';
  } catch {
    return text === '' ? 'empty body' : 'non-JSON body';
  }
}

/** One HTTP/1.1 POST from the attacker's address; resolves with "status code" or the error. */
function post(port: number, path: string, body: Buffer, contentType = 'application/json'): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        localAddress: ATTACKER,
        port,
        path,
        method: 'POST',
        agent: false,
        timeout: 15_000,
        headers: { 'content-type': contentType, 'content-length': body.length },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(`${res.statusCode ?? 0} ${codeOf(text)}`));
        res.on('error', () => resolve('reset mid-answer'));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer in 15 s')));
    req.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    req.end(body);
  });
}

async function inBatches(total: number, concurrency: number, one: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await one(next++);
    }),
  );
}

/** `[[[…]]]` of `bytes` bytes (under the 8 MiB body limit), to the JSON fast path and to Connect. */
export async function nestedJson(port: number, bytes = 6 << 20): Promise<string> {
  const half = Math.floor(bytes / 2);
  const body = Buffer.concat([Buffer.alloc(half, '['), Buffer.alloc(half, ']')]);
  const t = new Tally();
  for (const path of ['/leasekv.v1.KV/Get', '/leasekv.v1.KV/Range', '/leasekv.v1.KV/Put'])
    t.add(await post(port, path, body));
  return t.toString();
}

export function h2(port: number): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = h2connect(`http://127.0.0.1:${port}`, {
      createConnection: () => netConnect({ host: '127.0.0.1', port, localAddress: ATTACKER }),
    });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** HTTP/2 "rapid reset": `streams` HEADERS each followed at once by RST_STREAM on one connection. */
export async function rapidReset(port: number, streams = 3000): Promise<string> {
  const s = await h2(port);
  s.on('error', () => undefined);
  let goaway = 'no GOAWAY';
  s.on('goaway', (code: number) => (goaway = `GOAWAY code ${code}`));
  let sent = 0;
  for (; sent < streams && !s.destroyed && !s.closed; sent++) {
    const r = s.request({ ':method': 'POST', ':path': '/leasekv.v1.KV/Get', 'content-type': 'application/json' });
    r.on('error', () => undefined);
    r.close(h2c.NGHTTP2_CANCEL);
  }
  await sleep(2000);
  s.destroy();
  return `${sent} streams opened and reset, ${goaway}`;
}

/** `n` TCP connections at once; how many the node still holds after 1 s. */
export async function connectionBurst(port: number, n = 5000, pid?: number): Promise<string> {
  const before = socketsOf(pid);
  const socks: Socket[] = [];
  let failed = 0;
  let closedByServer = 0;
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve) => {
          const s = netConnect({ host: '127.0.0.1', port, localAddress: ATTACKER }, () => resolve());
          s.on('error', () => {
            failed++;
            resolve();
          });
          s.on('close', () => {
            closedByServer++;
            resolve();
          });
          socks.push(s);
        }),
    ),
  );
  await sleep(1000);
  const open = socks.filter((s) => !s.destroyed).length;
  const held = nodeHolds(before, socketsOf(pid));
  for (const s of socks) s.destroy();
  return `after 1 s ${open} still open at the attacker, ${closedByServer} closed (${failed} with an error)${held}`;
}

/**
 * `n` HTTP/1.1 requests whose headers never finish, opened 500 at a time (for at most `openMs`) and
 * held: the node should close each within its headers timeout (10 s by default, checked every
 * 2.5 s: http-guards.ts), hence the default 15 s. Holds them at most `holdMs` after the last was
 * opened.
 */
export async function halfSent(
  port: number,
  n = 10_000,
  holdMs = 15_000,
  pid?: number,
  openMs = 25_000,
): Promise<string> {
  const before = socketsOf(pid);
  let peak = before;
  const opened: { sock: Socket; at: number; closedAt: number }[] = [];
  let refused = 0;
  const t0 = performance.now();
  let tried = 0;
  // Opening is bounded too: a node that accepts slowly under the attack ends it early.
  await inBatches(n, 500, async () => {
    if (performance.now() - t0 > openMs) return;
    tried++;
    await new Promise<void>((resolve) => {
      const rec = { sock: null as unknown as Socket, at: 0, closedAt: 0 };
      const s = netConnect({ host: '127.0.0.1', port, localAddress: ATTACKER }, () => {
        rec.at = performance.now();
        s.write('POST /leasekv.v1.KV/Get HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Slow: ');
        resolve();
      });
      rec.sock = s;
      s.on('error', () => undefined);
      s.on('close', () => {
        rec.closedAt = performance.now();
        if (rec.at === 0) refused++;
        resolve();
      });
      opened.push(rec);
    });
  });
  const openedMs = performance.now() - t0;
  const t1 = performance.now();
  while (performance.now() - t1 < holdMs && opened.some((r) => r.closedAt === 0)) {
    peak = Math.max(peak, socketsOf(pid));
    await sleep(500);
  }
  const heldAtEnd = socketsOf(pid);
  const connected = opened.filter((r) => r.at > 0);
  const closedSoon = connected.filter((r) => r.closedAt > 0 && r.closedAt - r.at < 1000).length;
  const timedOut = connected.filter((r) => r.closedAt > 0 && r.closedAt - r.at >= 1000);
  const still = connected.filter((r) => r.closedAt === 0).length;
  const heldS = timedOut.map((r) => (r.closedAt - r.at) / 1000).sort((a, b) => a - b);
  const med = heldS[Math.floor(heldS.length / 2)];
  for (const r of opened) r.sock.destroy();
  return (
    `${tried} opened in ${(openedMs / 1000).toFixed(1)} s: ${refused + closedSoon} closed within 1 s, ` +
    `${timedOut.length} closed later (median after ${med === undefined ? '-' : med.toFixed(1)} s), ${still} open at the attacker ${holdMs / 1000} s after the last was opened${
      before < 0
        ? ''
        : `; the node held at most ${peak - before} more sockets than before, ${heldAtEnd - before} at the end`
    }`
  );
}

/** A gRPC request over HTTP/2: 5-byte prefix with `flags`, then `payload`; resolves with grpc-status or the error. */
function grpcCall(s: ClientHttp2Session, flags: number, payload: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const r = s.request({
      ':method': 'POST',
      ':path': '/leasekv.v1.KV/Get',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let status = '';
    r.on('response', (h) => {
      if (h['grpc-status'] !== undefined) status = `grpc-status ${String(h['grpc-status'])}`;
    });
    r.on('trailers', (h) => {
      if (h['grpc-status'] !== undefined) status = `grpc-status ${String(h['grpc-status'])}`;
    });
    r.on('data', () => undefined);
    r.on('end', () => resolve(status === '' ? 'no grpc-status' : status));
    r.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    r.setTimeout(10_000, () => r.close(h2c.NGHTTP2_CANCEL));
    const prefix = Buffer.alloc(5);
    prefix[0] = flags;
    prefix.writeUInt32BE(payload.length, 1);
    r.end(Buffer.concat([prefix, payload]));
  });
}

/** Malformed protobuf (Connect), invalid UTF-8 in JSON, and gRPC frames with reserved flag bits, `each` of every kind. */
export async function malformed(port: number, each = 300): Promise<string> {
  const t = new Tally();
  const junk = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]); // field 1, length far past the end
  await inBatches(each, 20, async () =>
    t.add(`proto: ${await post(port, '/leasekv.v1.KV/Get', junk, 'application/proto')}`),
  );
  const badUtf8 = Buffer.concat([
    Buffer.from('{"key":"abuse-'),
    Buffer.from([0xfe, 0xff]),
    Buffer.from('","value":"x"}'),
  ]);
  await inBatches(each, 20, async () => t.add(`utf8: ${await post(port, '/leasekv.v1.KV/Put', badUtf8)}`));
  const s = await h2(port);
  s.on('error', () => undefined);
  // A valid GetRequest {key: "abuse"} behind flag 0x80 (reserved bit) — must be refused, not applied.
  const get = Buffer.from([0x0a, 0x05, ...Buffer.from('abuse')]);
  await inBatches(each, 20, async () => t.add(`grpc flag 0x80: ${await grpcCall(s, 0x80, get)}`));
  s.destroy();
  return t.toString();
}

/**
 * Peer port: one connection declaring a 12 MiB frame before any handshake (and sending its bytes),
 * then `flood` connections held for 6 s spread over the given peer ports.
 */
export async function peerAbuse(
  peerPorts: readonly number[],
  flood = 300,
  pids: readonly number[] = [],
): Promise<string> {
  const sum = (): number => pids.reduce((n, p) => n + Math.max(0, socketsOf(p)), 0);
  const big = await new Promise<string>((resolve) => {
    let sent = 0;
    const s = netConnect({ host: '127.0.0.1', port: peerPorts[0] ?? 0, localAddress: ATTACKER }, () => {
      const head = Buffer.alloc(4);
      head.writeUInt32BE(12 << 20);
      const chunk = Buffer.alloc(1 << 20, 0x41);
      const pump = (): void => {
        while (sent < 12 << 20 && !s.destroyed) {
          sent += chunk.length;
          if (!s.write(chunk)) return void s.once('drain', pump);
        }
      };
      s.write(head);
      pump();
    });
    const timer = setTimeout(() => {
      s.destroy();
      resolve(`12 MiB frame: still open after 5 s (${sent >> 20} MiB written)`);
    }, 5000);
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(`12 MiB frame: closed by the node after ${(sent / 2 ** 20).toFixed(0)} MiB written`);
    });
  });
  const socks: { sock: Socket; closed: boolean }[] = [];
  await Promise.all(
    Array.from(
      { length: flood },
      (_, i) =>
        new Promise<void>((resolve) => {
          const rec = { sock: null as unknown as Socket, closed: false };
          rec.sock = netConnect(
            { host: '127.0.0.1', port: peerPorts[i % peerPorts.length] ?? 0, localAddress: ATTACKER },
            () => resolve(),
          );
          rec.sock.on('error', () => resolve());
          rec.sock.on('close', () => {
            rec.closed = true;
            resolve();
          });
          socks.push(rec);
        }),
    ),
  );
  const before = sum();
  await sleep(500);
  const resetAtOnce = socks.filter((r) => r.closed).length;
  const heldSoon = sum();
  await sleep(5500);
  const heldLate = sum();
  const closedLater = socks.filter((r) => r.closed).length - resetAtOnce;
  for (const r of socks) r.sock.destroy();
  return `${big}; flood of ${flood}: ${resetAtOnce} reset at once, ${closedLater} closed within 6 s (handshake timeout 3 s), ${socks.length - resetAtOnce - closedLater} still open at the attacker${
    pids.length === 0
      ? ''
      : `; the nodes' sockets changed by ${heldSoon - before} at 0.5 s, ${heldLate - before} at 6 s`
  }`;
}
