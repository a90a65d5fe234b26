// `serve --join`: a member just added asks a current member for the cluster id and the members
// (leasekv.v1.Cluster/MemberList over HTTP/JSON) before it records its identity and starts.
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ClientTlsMaterial } from './api/front.ts';
import { formatHostPort } from './config.ts';
import type { HostPort } from './config.ts';
import type { MemberView } from './cluster-backend.ts';
import { StartAbortedError } from './start-abort.ts';

export interface JoinInfo {
  readonly clusterId: string;
  readonly members: readonly MemberView[];
  readonly removed: readonly string[];
  /** The endpoint that answered. */
  readonly from: string;
}

const ATTEMPT_MS = 3000;

function post(
  ep: HostPort,
  path: string,
  body: string,
  tls: ClientTlsMaterial | null,
  signal: AbortSignal | undefined,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    // Over TLS the members' certificates are verified against --tls-ca, and this member's own
    // client-port certificate is presented as its client certificate.
    const req = (tls === null ? request : httpsRequest)(
      {
        ...(tls === null ? {} : { ca: tls.ca ?? undefined, cert: tls.cert, key: tls.key }),
        host: ep.host,
        port: ep.port,
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: ATTEMPT_MS,
        ...(signal === undefined ? {} : { signal }),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (text.length < 1 << 20) text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${ATTEMPT_MS} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

function parse(text: string): Omit<JoinInfo, 'from'> | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'the answer is not JSON';
  }
  const x = v as { clusterId?: unknown; members?: unknown; removed?: unknown };
  if (typeof x.clusterId !== 'string' || !Array.isArray(x.members)) return 'the answer has no clusterId/members';
  const members = (x.members as Record<string, unknown>[]).map((m) => ({
    id: String(m['id'] ?? ''),
    peerAddr: String(m['peerAddr'] ?? ''),
    clientAddr: String(m['clientAddr'] ?? ''),
    learner: m['learner'] === true,
    incarnation: String(m['incarnation'] ?? ''),
  }));
  const removed = Array.isArray(x.removed) ? (x.removed as unknown[]).map(String) : [];
  return { clusterId: x.clusterId, members, removed };
}

/**
 * Asks the endpoints in turn, for at most `waitMs`; throws with every endpoint's last error, or
 * StartAbortedError as soon as `signal` is aborted (a stop asked for while waiting).
 */
export async function fetchJoinInfo(
  endpoints: readonly HostPort[],
  waitMs: number,
  tls: ClientTlsMaterial | null = null,
  signal?: AbortSignal,
): Promise<JoinInfo> {
  const until = performance.now() + waitMs;
  const errors = new Map<string, string>();
  const stopAsked = (): void => {
    if (signal?.aborted === true) throw new StartAbortedError('join');
  };
  for (;;) {
    for (const ep of endpoints) {
      stopAsked();
      const name = formatHostPort(ep);
      try {
        const r = await post(ep, '/leasekv.v1.Cluster/MemberList', '{}', tls, signal);
        if (r.status !== 200) {
          errors.set(name, `HTTP ${r.status}: ${r.text.slice(0, 200)}`);
          continue;
        }
        const info = parse(r.text);
        if (typeof info === 'string') errors.set(name, info);
        else return { ...info, from: name };
      } catch (e) {
        errors.set(name, (e as Error).message);
      }
    }
    stopAsked();
    if (performance.now() >= until) break;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, 500);
      function done(): void {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
  }
  stopAsked();
  throw new Error(
    `--join: no member answered MemberList within ${waitMs} ms: ${[...errors].map(([ep, e]) => `${ep}: ${e}`).join('; ')}`,
  );
}
