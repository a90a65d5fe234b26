// Membership changes for the supervisor's add-member / remove-member controls (issue 12): the same
// Cluster API calls as `leasekv member add` (without --learner: added as a learner, promoted by the
// leader once caught up) and `leasekv member remove`.
import { LeasekvClient } from '../client/index.ts';
import type { Credentials } from '../client/auth.ts';
import type { ClientTlsOptions } from '../client/transport.ts';
import { ControlConflictError, type SupervisedNode, type SupervisorOptions } from './supervisor.ts';

async function call(
  endpoints: readonly string[],
  method: 'MemberAdd' | 'MemberRemove',
  body: Record<string, unknown>,
  credentials: Credentials | undefined,
  tls: ClientTlsOptions | undefined,
): Promise<void> {
  const client = new LeasekvClient({
    endpoints: [...endpoints],
    deadlineMs: 10_000,
    ...(credentials === undefined ? {} : { credentials }),
    ...(tls === undefined ? {} : { tls }),
  });
  try {
    await client.cluster(method, body);
  } catch (e) {
    // Refusals (a change under way, too few healthy voters) are the operator's to read, not a crash.
    throw new ControlConflictError(`${method} ${String(body['id'])}: ${(e as Error).message}`);
  } finally {
    await client.close();
  }
}

/**
 * `next(taken)` names the member to add (throws ControlConflictError when none can be) and must be
 * ready to spawn it once it is returned; `endpoints` are the client addresses asked (over TLS with `tls`).
 */
export function clusterMembership(
  endpoints: readonly string[],
  next: (taken: readonly string[]) => SupervisedNode,
  /** Membership changes need the root role when auth is on (issue 15). */
  credentials?: Credentials,
  tls?: ClientTlsOptions,
): NonNullable<SupervisorOptions['membership']> {
  return {
    async add(taken) {
      const n = next(taken);
      await call(
        endpoints,
        'MemberAdd',
        { id: n.id, peerAddr: n.peerAddr, clientAddr: n.clientAddr, learner: false },
        credentials,
        tls,
      );
      return n;
    },
    async remove(id) {
      await call(endpoints, 'MemberRemove', { id }, credentials, tls);
    },
  };
}
