// Auth in the Connect handlers (issue 15): who calls (AuthGate.identify, from the authorization
// header or the TLS client certificate that client-security.ts reports: its CN names the user) and what a
// transaction touches. The checks themselves are in server/auth/gate.ts, shared with the fast path,
// the SSE watch and the backup route.
import type { HandlerContext } from '@connectrpc/connect';
import type { IncomingMessage } from 'node:http';
import type { TxnRequest } from '../backend.ts';
import { allowKey, allowPrefix, type AuthGate, type Identity } from '../auth/gate.ts';
import { CLIENT_SECURITY, clientSecurityOf } from './client-security.ts';

/** The caller of a plain HTTP request (fast path, SSE, backup); null: auth off. Throws unauthenticated. */
export function callerOfRequest(gate: AuthGate | undefined, req: IncomingMessage): Identity | null {
  if (gate === undefined) return null;
  return gate.identify(req.headers.authorization, clientSecurityOf(req));
}

/** The caller (null: auth off). Throws unauthenticated. */
export function callerOf(gate: AuthGate | undefined, ctx: HandlerContext): Identity | null {
  if (gate === undefined) return null;
  return gate.identify(ctx.requestHeader.get('authorization') ?? undefined, ctx.values.get(CLIENT_SECURITY));
}

/** A transaction needs read permission on every key it compares or reads and write on every key it changes. */
export function allowTxn(id: Identity | null, r: TxnRequest): void {
  if (id === null || id.root) return;
  for (const c of r.compares) allowKey(id, c.key, false);
  for (const o of [...r.success, ...r.failure]) {
    if (o.op === 'range') allowPrefix(id, o.prefix, false);
    else allowKey(id, o.key, o.op === 'put' || o.op === 'delete');
  }
}
