// A node's Status as the tests read it, and the wait for one leader that every cluster test starts
// with.
import { call, type CallResult, type Endpoint } from './http.ts';
import { waitFor } from './wait.ts';

export interface StatusView {
  readonly id: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string;
  readonly leaseHeld: boolean;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

/** A node's Status, or the failed call. */
export async function statusAt(ep: Endpoint, timeoutMs = 1000): Promise<StatusView | CallResult> {
  const r = await call(ep, 'Status', {}, timeoutMs);
  if (r.kind !== 'ok') return r;
  const b = r.body;
  return {
    id: String(b['id']),
    role: String(b['role']),
    term: Number(b['term'] ?? 0),
    leader: String(b['leader'] ?? ''),
    leaseHeld: b['leaseHeld'] === true,
    commitIndex: Number(b['commitIndex'] ?? 0),
    appliedIndex: Number(b['appliedIndex'] ?? 0),
  };
}

/**
 * Waits until exactly one of the nodes says LEADER, holds its lease (so a majority has been
 * acknowledging it lately), and all of them name it. Returns its id.
 */
export function waitForOneLeader(
  endpoints: ReadonlyMap<string, Endpoint>,
  timeoutMs: number,
  hopeless: () => string | undefined = () => undefined,
): Promise<string> {
  return waitFor(
    `one leader among ${[...endpoints.keys()].join(',')}`,
    timeoutMs,
    async () => {
      const views = await Promise.all([...endpoints.values()].map((ep) => statusAt(ep)));
      const leaders = views.filter((v): v is StatusView => 'role' in v && v.role === 'LEADER');
      if (leaders.length !== 1 || !(leaders[0] as StatusView).leaseHeld) return undefined;
      const leader = (leaders[0] as StatusView).id;
      return views.every((v) => 'role' in v && v.leader === leader) ? leader : undefined;
    },
    { intervalMs: 50, hopeless },
  );
}
