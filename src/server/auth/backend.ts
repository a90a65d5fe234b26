// What the Auth service needs from a node (issue 15): the applied users and roles, and a way to
// change them through the log.
import type { AuthChange, AuthTable } from '../../kv/auth.ts';

export interface AuthBackend {
  /** The node's applied auth table (replaced when a snapshot is installed: ask again each time). */
  authTable(): AuthTable;
  /** Proposes a change and waits until it is applied; throws AuthRefusedError if the table refused it. */
  authChange(change: AuthChange, signal: AbortSignal): Promise<{ index: number }>;
}

/** The change was applied but refused by the table (kv/auth.ts): nothing changed. */
export class AuthRefusedError extends Error {
  override readonly name = 'AuthRefusedError';
}
