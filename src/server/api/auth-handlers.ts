// Connect service implementation of leasekv.v1.Auth (issue 15; docs/api.md "Users and roles"):
// Authenticate turns a password into a token; everything else needs the root role and, for changes,
// goes through the log on the leader like a write (the node answers not-leader elsewhere).
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import { Access, Auth } from '../../gen/leasekv/v1/kv_pb.ts';
import { badName, type AuthChange } from '../../kv/auth.ts';
import type { AuthBackend } from '../auth/backend.ts';
import { requireRoot, unauthenticated, type AuthGate } from '../auth/gate.ts';
import { hashPassword, MAX_PASSWORD_BYTES, verifyPassword } from '../auth/passwords.ts';
import { callerOf } from './authz.ts';
import { CLIENT_SECURITY } from './client-security.ts';
import type { ApiCore } from './core.ts';
import { checkKey } from './validate.ts';

/** Compared against when the user does not exist, so the answer takes as long as for a wrong password. */
const NOBODY = { salt: 'AAAAAAAAAAAAAAAAAAAAAA==', hash: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' };

function name(n: string, what: 'user' | 'role'): string {
  const bad = badName(n, what);
  if (bad !== undefined) throw new ConnectError(bad, Code.InvalidArgument);
  return n;
}

function password(p: string): string {
  if (p.length === 0) throw new ConnectError('password must not be empty', Code.InvalidArgument);
  if (Buffer.byteLength(p) > MAX_PASSWORD_BYTES)
    throw new ConnectError(`password is longer than ${MAX_PASSWORD_BYTES} bytes`, Code.InvalidArgument);
  return p;
}

export function authService(core: ApiCore, gate: AuthGate, backend: AuthBackend): ServiceImpl<typeof Auth> {
  const run = <T>(ctx: HandlerContext, fn: (signal: AbortSignal) => Promise<T>): Promise<T> =>
    core.call(ctx.signal, ctx.timeoutMs(), fn);
  const admin = (ctx: HandlerContext): void => requireRoot(callerOf(gate, ctx), 'manage users and roles');
  /**
   * Before a password is hashed: with auth off, requireRoot lets anyone through and the change is
   * refused only when applied, after a scrypt (~50 ms of a libuv pool thread, outside the in-flight
   * budget) — 1,000 unauthenticated UserAdd calls kept the node's pool busy for ~55 s (session 9
   * audit). The same refusal, at once.
   */
  const enabled = (): void => {
    if (!backend.authTable().enabled)
      throw new ConnectError('auth is not enabled (start a member with --auth)', Code.InvalidArgument);
  };
  const change = async (ctx: HandlerContext, c: AuthChange): Promise<{ index: bigint }> => {
    const r = await run(ctx, (s) => backend.authChange(c, s));
    return { index: BigInt(r.index) };
  };
  return {
    async authenticate(req, ctx) {
      if (!backend.authTable().enabled) throw unauthenticated('auth is not enabled on this cluster');
      const remote = ctx.values.get(CLIENT_SECURITY).remote;
      // Before the hash: a flood of guesses is refused without costing a scrypt each (auth/attempts.ts).
      gate.admitAttempt(remote);
      const user = backend.authTable().user(req.name);
      const ok = await run(ctx, () => verifyPassword(req.password, user ?? NOBODY));
      if (user === undefined || !ok) {
        gate.failedAttempt(remote, req.name);
        throw unauthenticated('wrong user name or password');
      }
      return gate.issue(user.name);
    },
    async userAdd(req, ctx) {
      admin(ctx);
      enabled();
      const h = await hashPassword(password(req.password));
      return change(ctx, { kind: 'user-add', name: name(req.name, 'user'), ...h });
    },
    async userDelete(req, ctx) {
      admin(ctx);
      return change(ctx, { kind: 'user-delete', name: name(req.name, 'user') });
    },
    async userChangePassword(req, ctx) {
      admin(ctx);
      enabled();
      const h = await hashPassword(password(req.password));
      return change(ctx, { kind: 'user-passwd', name: name(req.name, 'user'), ...h });
    },
    async userGrantRole(req, ctx) {
      admin(ctx);
      return change(ctx, { kind: 'user-grant', name: name(req.name, 'user'), role: name(req.role, 'role') });
    },
    async userRevokeRole(req, ctx) {
      admin(ctx);
      return change(ctx, { kind: 'user-revoke', name: name(req.name, 'user'), role: name(req.role, 'role') });
    },
    async userList(_req, ctx) {
      admin(ctx);
      return {
        users: backend
          .authTable()
          .userList()
          .map((u) => ({ name: u.name, roles: [...u.roles] })),
      };
    },
    async roleAdd(req, ctx) {
      admin(ctx);
      return change(ctx, { kind: 'role-add', name: name(req.name, 'role') });
    },
    async roleDelete(req, ctx) {
      admin(ctx);
      return change(ctx, { kind: 'role-delete', name: name(req.name, 'role') });
    },
    async roleGrantPermission(req, ctx) {
      admin(ctx);
      const p = req.permission;
      if (p === undefined) throw new ConnectError('permission is required', Code.InvalidArgument);
      if (p.prefix !== '') checkKey(p.prefix, core.limits, 'prefix');
      const access = p.access === Access.READWRITE ? 'readwrite' : 'read';
      return change(ctx, { kind: 'role-grant', name: name(req.name, 'role'), prefix: p.prefix, access });
    },
    async roleRevokePermission(req, ctx) {
      admin(ctx);
      return change(ctx, { kind: 'role-revoke', name: name(req.name, 'role'), prefix: req.prefix });
    },
    async roleList(_req, ctx) {
      admin(ctx);
      return {
        roles: backend
          .authTable()
          .roleList()
          .map((r) => ({
            name: r.name,
            permissions: r.permissions.map((p) => ({
              prefix: p.prefix,
              access: p.access === 'readwrite' ? Access.READWRITE : Access.READ,
            })),
          })),
      };
    },
  };
}
