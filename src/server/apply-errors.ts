// What an applied command answered that is an error for its caller, as the typed errors of
// backend.ts (moved out of node.ts, session 12, to keep that file within its size).
import type { ApplyResult } from '../kv/machine.ts';
import { InvalidArgumentError, SessionExpiredError, TtlNotFoundError } from './backend.ts';

/** Throws the typed error for a result that refuses the command (stale or expired session, invalid, no such TTL grant). */
export function checkResult(r: ApplyResult): void {
  if (r.op === 'session-stale')
    throw new SessionExpiredError(
      `session ${r.clientId}: seq ${r.seq} is older than the last applied seq ${r.lastSeq}`,
    );
  if (r.op === 'session-expired') throw new SessionExpiredError(`session ${r.clientId} expired; start a new session`);
  if (r.op === 'invalid') throw new InvalidArgumentError(r.reason);
  if (r.op === 'ttl-not-found') throw new TtlNotFoundError(r.id);
}
