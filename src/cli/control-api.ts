// The supervisor's control API over HTTP (supervisor.ts starts the server): who may call it — the
// Host must be the server's own loopback address, a browser's Origin one of the members' dashboard
// origins, and a POST must carry `x-leasekv-control: 1` (a header a browser sends only after a CORS
// preflight) — and the JSON answers.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** 'removed': removed from the cluster (its id never rejoins): not started, never restarted. */
export type ProcessState = 'running' | 'paused' | 'stopped' | 'removed';
export interface NodeControlState {
  readonly id: string;
  readonly state: ProcessState;
  readonly isolated: boolean;
  readonly pid: number | null;
  /** How the last process ended ('SIGKILL', 'code 0'), '' while none has. */
  readonly lastExit: string;
  /** Stopped through the control API (kill), not on its own: `up` keeps running for a restart. */
  readonly stoppedByControl: boolean;
  /** Added through add-member (no fault proxy: cannot be isolated). */
  readonly added: boolean;
}

export type ControlAction = 'kill' | 'restart' | 'pause' | 'resume' | 'isolate' | 'heal' | 'remove-member';
export const CONTROL_ACTIONS: readonly ControlAction[] = [
  'kill',
  'restart',
  'pause',
  'resume',
  'isolate',
  'heal',
  'remove-member',
];

/** A request the node's current state does not allow (pausing a stopped node). */
export class ControlConflictError extends Error {
  override readonly name = 'ControlConflictError';
}

export interface ControlApi {
  /** The Host values this server answers to: its own loopback address, nothing a DNS name could resolve to. */
  readonly allowedHosts: ReadonlySet<string>;
  readonly allowedOrigins: ReadonlySet<string>;
  states(): NodeControlState[];
  act(id: string, action: ControlAction): Promise<NodeControlState>;
  addMember(): Promise<NodeControlState>;
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function handleControl(req: IncomingMessage, res: ServerResponse, api: ControlApi): void {
  const host = (req.headers.host ?? '').toLowerCase();
  if (!api.allowedHosts.has(host))
    return reply(res, 403, {
      error: `Host '${host}' is not this supervisor's address (${[...api.allowedHosts].join(' or ')}): refused (DNS rebinding?)`,
    });
  const origin = req.headers.origin;
  if (origin !== undefined) {
    if (!api.allowedOrigins.has(origin))
      return reply(res, 403, { error: `origin ${origin} may not control this cluster` });
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'origin');
  }
  const path = (req.url ?? '').split('?')[0] ?? '';
  if (req.method === 'OPTIONS') {
    res.writeHead(204, {
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'x-leasekv-control',
      'access-control-max-age': '600',
    });
    res.end();
    return;
  }
  if (req.method === 'GET' && path === '/nodes') return reply(res, 200, { nodes: api.states() });
  const m = /^\/nodes\/([A-Za-z0-9_.-]{1,64})\/([a-z-]+)$/.exec(path);
  const add = path === '/members/add';
  if (req.method !== 'POST' || (m === null && !add))
    return reply(res, 404, { error: `no such control: ${req.method ?? ''} ${path}` });
  if (req.headers['x-leasekv-control'] !== '1')
    return reply(res, 400, { error: 'control requests need the header x-leasekv-control: 1' });
  const action = m?.[2] as ControlAction;
  if (!add && !CONTROL_ACTIONS.includes(action)) return reply(res, 404, { error: `unknown action '${m?.[2] ?? ''}'` });
  req.resume();
  (add ? api.addMember() : api.act(m?.[1] as string, action)).then(
    (st) => reply(res, 200, st),
    (err: unknown) => {
      const status = err instanceof RangeError ? 404 : err instanceof ControlConflictError ? 409 : 500;
      reply(res, status, { error: err instanceof Error ? err.message : String(err) });
    },
  );
}
