// A minimal client for the tests: one POST of JSON to /leasekv.v1.KV/<Method> over
// keep-alive HTTP/1.1 (the tests want to see every raw answer, which the client library hides).
// It never throws for anything the network or the server does: every call ends in a CallResult
// within its timeout, which is what lets the tests say "no hang".
import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * A node's client API: a TCP address (HTTPS when `ca`, the PEM of the CA that signed the node's
 * client-port certificate, is given), or a unix socket that forwards to one (netns test).
 */
export type Endpoint =
  { readonly host: string; readonly port: number; readonly ca?: string } | { readonly socketPath: string };

export type KvMethod = 'Put' | 'Get' | 'Delete' | 'CompareAndSwap' | 'Range' | 'Status' | 'Txn';
/** leasekv.v1.Cluster methods (membership). */
export type ClusterMethod = 'MemberList' | 'MemberAdd' | 'MemberPromote' | 'MemberRemove' | 'TransferLeadership';
const CLUSTER_METHODS: ReadonlySet<string> = new Set([
  'MemberList',
  'MemberAdd',
  'MemberPromote',
  'MemberRemove',
  'TransferLeadership',
]);

export type CallResult =
  | { readonly kind: 'ok'; readonly body: Record<string, unknown>; readonly ms: number }
  | {
      readonly kind: 'error';
      /** Connect code: failed_precondition, unavailable, aborted, ... */
      readonly code: string;
      readonly message: string;
      readonly httpStatus: number;
      readonly leader: string;
      readonly leaderAddr: string;
      /** The server said the write may or may not have been applied (leasekv-outcome: unknown). */
      readonly outcomeUnknown: boolean;
      readonly ms: number;
    }
  | {
      readonly kind: 'network';
      /** ECONNREFUSED, ECONNRESET, TIMEOUT, ... */
      readonly errno: string;
      readonly message: string;
      readonly ms: number;
    };

/** Upper bound on one response body: every answer here is small. */
const MAX_BODY_BYTES = 4 << 20;

export const sharedAgent = new Agent({ keepAlive: true, maxSockets: 64, timeout: 30_000 });

/** Keep-alive HTTPS agents, one per CA (a handful per test run). */
const tlsAgents = new Map<string, HttpsAgent>();

/** The agent for `ep`: `agent` for plaintext, else a shared HTTPS agent trusting the endpoint's CA. */
function agentOf(ep: Endpoint, agent: Agent): Agent {
  if (!('ca' in ep) || ep.ca === undefined) return agent;
  let a = tlsAgents.get(ep.ca);
  if (a === undefined) tlsAgents.set(ep.ca, (a = new HttpsAgent({ keepAlive: true, maxSockets: 64, ca: ep.ca })));
  return a;
}

function endpointOptions(ep: Endpoint): { host: string; port: number } | { socketPath: string } {
  return 'socketPath' in ep ? { socketPath: ep.socketPath } : { host: ep.host, port: ep.port };
}

export function describeEndpoint(ep: Endpoint): string {
  return 'socketPath' in ep ? `unix:${ep.socketPath}` : `${ep.host}:${ep.port}`;
}

/**
 * POSTs `body` as JSON. `timeoutMs` bounds the whole exchange (connect, server work, body); the
 * server is also told the deadline (connect-timeout-ms) so it gives up at about the same time.
 */
export function call(
  ep: Endpoint,
  method: KvMethod | ClusterMethod,
  body: object,
  timeoutMs: number,
  agent: Agent = sharedAgent,
): Promise<CallResult> {
  if (!(timeoutMs > 0 && timeoutMs <= 120_000)) throw new RangeError(`timeoutMs out of range: ${timeoutMs}`);
  const payload = Buffer.from(JSON.stringify(body));
  const t0 = performance.now();
  const ms = (): number => Math.round(performance.now() - t0);
  return new Promise<CallResult>((resolve) => {
    let settled = false;
    const finish = (r: CallResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const tls = 'ca' in ep && ep.ca !== undefined;
    const req = (tls ? httpsRequest : request)(
      {
        ...endpointOptions(ep),
        agent: agentOf(ep, agent),
        method: 'POST',
        path: `/leasekv.v1.${CLUSTER_METHODS.has(method) ? 'Cluster' : 'KV'}/${method}`,
        headers: {
          'content-type': 'application/json',
          'content-length': String(payload.length),
          'connect-timeout-ms': String(Math.max(1, Math.floor(timeoutMs - 50))),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY_BYTES) req.destroy(new Error(`response larger than ${MAX_BODY_BYTES} bytes`));
          else chunks.push(c);
        });
        res.on('error', (e: NodeJS.ErrnoException) =>
          finish({ kind: 'network', errno: e.code ?? 'ERESPONSE', message: e.message, ms: ms() }),
        );
        res.on('end', () =>
          finish(decodeAnswer(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString('utf8'), ms())),
        );
      },
    );
    const timer = setTimeout(() => {
      finish({ kind: 'network', errno: 'TIMEOUT', message: `no answer within ${timeoutMs} ms`, ms: ms() });
      req.destroy();
    }, timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) =>
      finish({ kind: 'network', errno: e.code ?? 'EREQUEST', message: e.message, ms: ms() }),
    );
    req.end(payload);
  });
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string {
  const v = headers[name];
  return typeof v === 'string' ? v : Array.isArray(v) ? (v[0] ?? '') : '';
}

function decodeAnswer(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  text: string,
  ms: number,
): CallResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  const obj =
    typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : null;
  if (status === 200 && obj !== null) return { kind: 'ok', body: obj, ms };
  return {
    kind: 'error',
    code: typeof obj?.['code'] === 'string' ? obj['code'] : `http_${status}`,
    message: typeof obj?.['message'] === 'string' ? obj['message'] : text.slice(0, 200),
    httpStatus: status,
    leader: header(headers, 'leasekv-leader'),
    leaderAddr: header(headers, 'leasekv-leader-addr'),
    outcomeUnknown: header(headers, 'leasekv-outcome') === 'unknown',
    ms,
  };
}

/** One line for assertion messages. */
export function showResult(r: CallResult): string {
  if (r.kind === 'ok') return `ok ${JSON.stringify(r.body)} (${r.ms} ms)`;
  if (r.kind === 'error')
    return `error ${r.code}: ${r.message}${r.leader === '' ? '' : ` [leader ${r.leader} ${r.leaderAddr}]`} (${r.ms} ms)`;
  return `network ${r.errno}: ${r.message} (${r.ms} ms)`;
}

/** For the history: did a write that did not answer ok definitely not take effect? */
export function writeDefinitelyFailed(r: CallResult): boolean {
  if (r.kind === 'network') return r.errno === 'ECONNREFUSED';
  if (r.kind === 'error') {
    // Rejected before proposing: not the leader, bad input, back-pressure.
    return r.code === 'failed_precondition' || r.code === 'invalid_argument' || r.code === 'resource_exhausted';
  }
  return false;
}

/** What postText/postJson resolve with: the status and the body, parsed if it is JSON (else the text). */
export interface PostAnswer {
  readonly status: number;
  readonly body: unknown;
}

/**
 * POSTs `text` (already JSON) to 127.0.0.1:`port` (or `host`) at `path`, once: resolves with the
 * answer whatever its status; rejects on a network error or after `timeoutMs` (default 2 s). For
 * the benchmark's plumbing, which speaks to etcd's JSON gateway too (call() above is leasekv's).
 */
export function postText(
  port: number,
  path: string,
  text: string,
  o: { timeoutMs?: number; host?: string; agent?: Agent } = {},
): Promise<PostAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: o.host ?? '127.0.0.1',
        port,
        path,
        method: 'POST',
        ...(o.agent === undefined ? {} : { agent: o.agent }),
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
        timeout: o.timeoutMs ?? 2000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const answer = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = answer;
          try {
            parsed = JSON.parse(answer);
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(text);
  });
}

/** postText of `body` as JSON, with the timeout and host as positional arguments. */
export function postJson(
  port: number,
  path: string,
  body: unknown,
  timeoutMs = 2000,
  host = '127.0.0.1',
): Promise<PostAnswer> {
  return postText(port, path, JSON.stringify(body), { timeoutMs, host });
}
