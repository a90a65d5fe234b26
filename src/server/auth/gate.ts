// Who is calling, and may they (issue 15; docs/security.md). Every API surface asks the gate:
// the Connect handlers (gRPC, Connect, HTTP/JSON), the JSON fast path, the SSE watch and the backup
// route. Identities come from a bearer token (tokens.ts) or, when the request came over TLS with a
// client certificate the server verified, from its CN. Permissions come from the replicated auth
// table (kv/auth.ts) and are cached per user until the table changes, so the check on a lease read is
// a few map lookups and string compares.
import { Code, ConnectError } from '@connectrpc/connect';
import { ROOT, type AuthTable, type Permission } from '../../kv/auth.ts';
import { TokenCache, signToken } from './tokens.ts';

export interface Identity {
  readonly user: string;
  readonly root: boolean;
  /** The permissions of every role the user holds (empty for root, who needs none). */
  readonly permissions: readonly Permission[];
}

export interface AuthGateOptions {
  /** The node's auth table (it is replaced when a snapshot is installed, so always asked again). */
  readonly table: () => AuthTable;
  /** --auth: enforce even before the table says auth is enabled (then nobody gets in until it is). */
  readonly required: boolean;
  /** How long a token from Authenticate lives. */
  readonly tokenTtlMs: number;
  /** Wall clock (ms since the epoch): token expiry is compared across members. */
  readonly nowMs?: () => number;
}

const HOW =
  "send 'authorization: Bearer <token>' (leasekv.v1.Auth/Authenticate, or the CLI's --user) or a client certificate";

export function unauthenticated(message: string): ConnectError {
  return new ConnectError(message, Code.Unauthenticated);
}

function denied(message: string): ConnectError {
  return new ConnectError(message, Code.PermissionDenied);
}

export class AuthGate {
  readonly #opts: AuthGateOptions;
  readonly #tokens = new TokenCache();
  readonly #nowMs: () => number;
  /** Per-user identities for one table object at one version. */
  #identities = new Map<string, Identity>();
  #cachedTable: AuthTable | null = null;
  #cachedVersion = -1;

  constructor(opts: AuthGateOptions) {
    this.#opts = opts;
    this.#nowMs = opts.nowMs ?? Date.now;
  }

  /** Whether requests must be authenticated: --auth given, or auth enabled in the replicated table. */
  get on(): boolean {
    return this.#opts.required || this.#opts.table().enabled;
  }

  get tokenTtlMs(): number {
    return this.#opts.tokenTtlMs;
  }

  /**
   * The caller, from the `authorization` header or else the verified client certificate's user;
   * null when auth is off. Throws unauthenticated.
   */
  identify(authorization: string | undefined, certUser: string | undefined): Identity | null {
    const table = this.#opts.table();
    if (!this.#opts.required && !table.enabled) return null;
    if (!table.enabled)
      throw unauthenticated(
        'auth is on but not set up yet: no root user exists (a member started with --auth --root-password-file creates it)',
      );
    if (authorization !== undefined && authorization !== '') {
      if (!/^bearer /i.test(authorization))
        throw unauthenticated(`the authorization header must be 'Bearer <token>'; ${HOW}`);
      const token = authorization.slice(7).trim();
      const claims = this.#tokens.claims(table.signingKey, token);
      if (claims === null) throw unauthenticated('invalid token (not one this cluster signed); authenticate again');
      if (claims.expiresAtMs <= this.#nowMs()) throw unauthenticated('token expired; authenticate again');
      const u = table.user(claims.user);
      if (u === undefined) throw unauthenticated(`token for user ${claims.user}, who no longer exists`);
      if (u.generation !== claims.generation)
        throw unauthenticated(`token revoked: the password of user ${claims.user} changed; authenticate again`);
      return this.#identity(table, claims.user);
    }
    if (certUser !== undefined) {
      if (table.user(certUser) === undefined)
        throw unauthenticated(`client certificate for user ${certUser}, who does not exist`);
      return this.#identity(table, certUser);
    }
    throw unauthenticated(`authentication required: ${HOW}`);
  }

  /** A token for `user` (whose password was just checked). */
  issue(user: string): { token: string; ttlMs: number } {
    const table = this.#opts.table();
    const u = table.user(user);
    if (u === undefined || !table.enabled) throw unauthenticated('wrong user name or password');
    const ttlMs = this.#opts.tokenTtlMs;
    return {
      token: signToken(table.signingKey, { user, generation: u.generation, expiresAtMs: this.#nowMs() + ttlMs }),
      ttlMs,
    };
  }

  #identity(table: AuthTable, user: string): Identity {
    if (table !== this.#cachedTable || table.version !== this.#cachedVersion) {
      this.#identities = new Map();
      this.#cachedTable = table;
      this.#cachedVersion = table.version;
    }
    let id = this.#identities.get(user);
    if (id === undefined) {
      const roles = table.user(user)?.roles ?? [];
      const root = roles.includes(ROOT);
      const permissions = root ? [] : roles.flatMap((r) => table.role(r) ?? []);
      id = { user, root, permissions };
      this.#identities.set(user, id);
    }
    return id;
  }
}

const what = (write: boolean): string => (write ? 'read-write' : 'read');

/** Throws permission_denied unless `id` may read (or write) `key`. null: auth is off. */
export function allowKey(id: Identity | null, key: string, write: boolean): void {
  if (id === null || id.root) return;
  for (const p of id.permissions) if (key.startsWith(p.prefix) && (!write || p.access === 'readwrite')) return;
  throw denied(`user ${id.user} has no ${what(write)} permission on key ${JSON.stringify(key)}`);
}

/** Every key under `prefix` (a Range or a prefix Watch) must be covered by one permission's prefix. */
export function allowPrefix(id: Identity | null, prefix: string, write: boolean): void {
  if (id === null || id.root) return;
  for (const p of id.permissions) if (prefix.startsWith(p.prefix) && (!write || p.access === 'readwrite')) return;
  throw denied(
    `user ${id.user} has no ${what(write)} permission on every key under prefix ${JSON.stringify(prefix)} (a role must grant a prefix of it)`,
  );
}

/** Admin operations (membership, compaction, backups, users and roles) need the root role. */
export function requireRoot(id: Identity | null, operation: string): void {
  if (id === null || id.root) return;
  throw denied(`user ${id.user} may not ${operation}: that needs the root role`);
}

/** TTL grants belong to no key: making or keeping one needs read-write permission on some prefix. */
export function requireSomeWrite(id: Identity | null, operation: string): void {
  if (id === null || id.root || id.permissions.some((p) => p.access === 'readwrite')) return;
  throw denied(`user ${id.user} may not ${operation}: that needs read-write permission on some prefix`);
}
