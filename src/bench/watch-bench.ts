// `--scenario watch` (issue 14): watch fan-out, leasekv beside etcd in the same run. W watchers on
// one prefix, spread evenly over the members (each on its own HTTP/1.1 connection: leasekv's
// server-sent events `GET /v1/watch`, etcd's JSON gateway `POST /v3/watch`), then writes to keys
// under the prefix from 4 closed-loop writers at the leader. Per event and watcher: the time from
// the write's acknowledgement (at the writer) to the event's arrival (at the watcher), and the
// events delivered per second from the first write to the last event.
import { Agent, request, type ClientRequest } from 'node:http';
import type { Cluster } from './systems.ts';
import { postJson, postText, sleep, waitFor } from './procs.ts';

export interface WatchRow {
  readonly system: string;
  readonly watchers: number;
  readonly writes: number;
  readonly elections: number;
  readonly delivered: number;
  readonly missing: number;
  readonly eventsPerSec: number;
  /** Events that arrived at a watcher at or below a revision it had already seen (must be 0). */
  readonly outOfOrder: number;
  /** From the write's acknowledgement at the writer (negative: the event came first). */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** From the moment the write was sent. */
  readonly sendP50Ms: number;
  readonly sendP99Ms: number;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const PREFIX = 'wf/';

interface Flavour {
  /** Opens one watcher on `port`; calls `onRevisions` with the revisions of each message's events. */
  open(port: number, onRevisions: (revs: number[]) => void): ClientRequest;
  put(port: number, agent: Agent, key: string, value: string): Promise<number>;
}

function streamRequest(
  port: number,
  method: string,
  path: string,
  body: string | null,
  sep: string,
  onMessage: (m: string) => void,
  onOpen: () => void,
): ClientRequest {
  const req = request(
    {
      host: '127.0.0.1',
      port,
      path,
      method,
      agent: false,
      headers: body === null ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    },
    (res) => {
      onOpen();
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        for (let i = buf.indexOf(sep); i >= 0; i = buf.indexOf(sep)) {
          onMessage(buf.slice(0, i));
          buf = buf.slice(i + sep.length);
        }
      });
      res.on('error', () => undefined);
    },
  );
  req.on('error', () => undefined);
  req.end(body ?? undefined);
  return req;
}

const revsOf = (m: string, re: RegExp): number[] => [...m.matchAll(re)].map((x) => Number(x[1]));

async function putReq(
  port: number,
  agent: Agent,
  path: string,
  body: string,
  rev: (b: unknown) => number,
): Promise<number> {
  const r = await postText(port, path, body, { agent, timeoutMs: 30_000 });
  if (r.status !== 200) throw new Error(`put: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return rev(r.body);
}

const LEASEKV: Flavour = {
  open: (port, on) =>
    streamRequest(
      port,
      'GET',
      `/v1/watch?key=${encodeURIComponent(PREFIX)}&prefix=true`,
      null,
      '\n\n',
      (m) => {
        if (m.includes('event: events')) on(revsOf(m, /"modRevision":"(\d+)"/g));
      },
      () => undefined,
    ),
  put: (port, agent, key, value) =>
    putReq(port, agent, '/leasekv.v1.KV/Put', JSON.stringify({ key, value }), (b) =>
      Number((b as { revision: string }).revision),
    ),
};

const ETCD: Flavour = {
  open: (port, on) =>
    streamRequest(
      port,
      'POST',
      '/v3/watch',
      JSON.stringify({ create_request: { key: b64(PREFIX), range_end: b64(PREFIX.slice(0, -1) + '0') } }),
      '\n',
      (m) => {
        if (m.includes('"events"')) on(revsOf(m, /"mod_revision":"(\d+)"/g));
      },
      () => undefined,
    ),
  put: (port, agent, key, value) =>
    putReq(port, agent, '/v3/kv/put', JSON.stringify({ key: b64(key), value: b64(value) }), (b) =>
      Number((b as { header: { revision: string } }).header.revision),
    ),
};

/** The highest term (leasekv) or raft term (etcd) any member reports. */
export async function termOf(c: Cluster): Promise<number> {
  let term = 0;
  for (const m of c.members) {
    if (m.pid === undefined) continue;
    const r =
      c.name === 'etcd'
        ? await postJson(m.clientPort, '/v3/maintenance/status', {}, 2000).catch(() => null)
        : await postJson(m.clientPort, '/leasekv.v1.KV/Status', {}, 2000).catch(() => null);
    const b = r?.body as { term?: string; raft_term?: string } | undefined;
    term = Math.max(term, Number(b?.term ?? b?.raft_term ?? 0));
  }
  return term;
}

function pct(sorted: readonly number[], p: number): number {
  return sorted.length === 0
    ? NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN);
}

/** Opens `watchers` watchers, makes `writes` writes, waits (bounded) for every event. */
export async function watchFanOut(
  c: Cluster,
  watchers: number,
  writes: number,
  valueBytes: number,
  say: (l: string) => void,
): Promise<WatchRow> {
  const flavour = c.name === 'etcd' ? ETCD : LEASEKV;
  let leader = await c.leader();
  const term0 = await termOf(c);
  const ports = c.members.filter((m) => m.pid !== undefined).map((m) => m.clientPort);
  const arrivals: [number, number][] = []; // [revision, ms]
  const perRevision = new Map<number, number>();
  let delivered = 0;
  let outOfOrder = 0;
  let lastArrival = 0;
  const reqs: ClientRequest[] = [];
  // Opened at most 200 a second: per-source connection-rate limits are not what is measured here.
  for (let i = 0; i < watchers; i++) {
    let seen = 0;
    reqs.push(
      flavour.open(ports[i % ports.length] as number, (revs) => {
        const t = performance.now();
        for (const r of revs) {
          if (r <= seen) outOfOrder++;
          seen = Math.max(seen, r);
          arrivals.push([r, t]);
          perRevision.set(r, (perRevision.get(r) ?? 0) + 1);
        }
        delivered += revs.length;
        lastArrival = t;
      }),
    );
    if (i % 50 === 49) await sleep(250);
  }
  await sleep(2000); // every watch registered (and leasekv's first progress notification sent)
  const ackAt = new Map<number, number>();
  const sentAt = new Map<number, number>();
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const value = 'v'.repeat(valueBytes);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < writes) {
        const i = next++;
        // A write whose outcome is unknown (leadership lost) is retried at the new leader; if both
        // were applied, the extra revision is not counted (only acknowledged revisions are).
        for (let attempt = 0; ; attempt++) {
          try {
            const ts = performance.now();
            const rev = await flavour.put(leader.clientPort, agent, `${PREFIX}k${i % 100}`, value);
            ackAt.set(rev, performance.now());
            sentAt.set(rev, ts);
            break;
          } catch (e) {
            if (attempt >= 20) throw e;
            await sleep(100);
            leader = await c.leader();
          }
        }
      }
    }),
  );
  agent.destroy();
  const expected = ackAt.size * watchers;
  const deliveredAcked = (): number => [...ackAt.keys()].reduce((n, r) => n + (perRevision.get(r) ?? 0), 0);
  await waitFor(`${c.name}: every watch event`, 60_000, async () => deliveredAcked() >= expected).catch(() =>
    say(`  ${c.name}: ${expected - deliveredAcked()} of ${expected} events not delivered within 60 s`),
  );
  const tEnd = lastArrival > t0 ? lastArrival : performance.now();
  for (const r of reqs) r.destroy();
  const lat = arrivals.filter(([r]) => ackAt.has(r)).map(([r, t]) => t - (ackAt.get(r) as number));
  lat.sort((a, b) => a - b);
  const fromSend = arrivals.filter(([r]) => sentAt.has(r)).map(([r, t]) => t - (sentAt.get(r) as number));
  fromSend.sort((a, b) => a - b);
  return {
    system: c.name,
    watchers,
    writes,
    elections: (await termOf(c)) - term0,
    delivered,
    missing: Math.max(0, expected - deliveredAcked()),
    eventsPerSec: delivered / ((tEnd - t0) / 1000),
    outOfOrder,
    p50Ms: pct(lat, 50),
    p99Ms: pct(lat, 99),
    maxMs: lat[lat.length - 1] ?? NaN,
    sendP50Ms: pct(fromSend, 50),
    sendP99Ms: pct(fromSend, 99),
  };
}

/** Preflight: a watch that stays open and sees a put (both systems), so a broken gateway fails fast. */
export async function checkWatchWorks(c: Cluster): Promise<void> {
  const flavour = c.name === 'etcd' ? ETCD : LEASEKV;
  const leader = await c.leader();
  let seen = 0;
  const req = flavour.open(leader.clientPort, (revs) => (seen += revs.length));
  await sleep(500);
  const agent = new Agent({ keepAlive: false });
  await flavour.put(leader.clientPort, agent, `${PREFIX}check`, 'x');
  await waitFor(`${c.name}: a watch event`, 10_000, async () => seen > 0);
  req.destroy();
}

export function watchTable(rows: readonly WatchRow[]): string {
  const f = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : '-');
  return [
    '| system | watchers | writes | elections | events delivered | missing | out of order | events/s | from ack p50 ms | p99 ms | max ms | from send p50 ms | p99 ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.system} | ${r.watchers} | ${r.writes} | ${r.elections} | ${r.delivered} | ${r.missing} | ${r.outOfOrder} | ${f(r.eventsPerSec, 0)} | ${f(r.p50Ms)} | ${f(r.p99Ms)} | ${f(r.maxMs)} | ${f(r.sendP50Ms)} | ${f(r.sendP99Ms)} |`,
    ),
  ].join('\n');
}
