// Who is calling, and may they (issue 15; docs/security.md). Every API surface asks the gate:
// the Connect handlers (gRPC, Connect, HTTP/JSON), the JSON fast path, the SSE watch and the backup
// route. Identities come from a bearer token (tokens.ts) or, when the request came over TLS with a
// client certificate the server verified, from its CN. Permissions come from the replicated auth
// table (kv/auth.ts) and are cached per user until the table changes, so the check on a lease read is
// a few map lookups and string compares.
//
// Refusals are logged on the node, rate-limited (util/log-limit.ts): unauthenticated requests one
// line per source address and reason per minute, permission_denied one line per user per minute, failed and
// rate-limited Authenticate calls one line per source per minute.
import { Code, ConnectError } from '@connectrpc/connect';
import { ROOT, type AuthTable, type Permission } from '../../kv/auth.ts';
import { LimitedLog, type WarnSink } from '../../util/log-limit.ts';
import type { AuthConfig } from '../config.ts';
import { AttemptLimiter } from './attempts.ts';
import { TokenCache, credentialFingerprint, signToken } from './tokens.ts';

export interface Identity {
  readonly user: string;
  readonly root: boolean;
  /** The permissions of every role the user holds (empty for root, who needs none). */
  readonly permissions: readonly Permission[];
  /** Logs a permission_denied answer to this user (rate-limited by the gate that made the identity). */
  readonly denied?: (message: string) => void;
}

/** What a request's connection says about its caller (api/client-security.ts, ClientSecurity; cached per connection). */
export interface Connection {
  /** The source address ('' if unknown): the key of the refusal log lines. */
  readonly remote: string;
  /** The client certificate, verified against --tls-ca: its CN names the user. */
  readonly clientCert: { readonly commonName: string } | null;
  /** A client certificate was presented but did not verify: why (node:tls's words). */
  readonly clientCertError: string | null;
}

/** Refusals are logged at most once per key in this interval. */
const LOG_INTERVAL_MS = 60_000;

/** The gate's settings from the node's config (config.ts, AuthConfig: validated there). */
export type AuthGateSettings = Pick<
  AuthConfig,
  'required' | 'tokenTtlMs' | 'authAttemptsPerSec' | 'authAttemptsPerSourcePerSec'
>;

export interface AuthGateOptions extends AuthGateSettings {
  /** The node's auth table (it is replaced when a snapshot is installed, so always asked again). */
  readonly table: () => AuthTable;
  /** Wall clock (ms since the epoch): token expiry is compared across members. */
  readonly nowMs?: () => number;
  /** Monotonic clock (ms): the Authenticate rate limit's windows and the log interval. */
  readonly monoNowMs?: () => number;
  /** Where refusals are logged (rate-limited). */
  readonly logger?: WarnSink;
}

const HOW =
  "send 'authorization: Bearer <token>' (leasekv.v1.Auth/Authenticate, or the CLI's --user) or a client certificate";

export function unauthenticated(message: string): ConnectError {
  return new ConnectError(message, Code.Unauthenticated);
}

function denied(id: Identity, message: string): ConnectError {
  id.denied?.(message);
  return new ConnectError(message, Code.PermissionDenied);
}

export class AuthGate {
  readonly #opts: AuthGateOptions;
  readonly #tokens = new TokenCache();
  readonly #nowMs: () => number;
  readonly #log: LimitedLog;
  readonly #attempts: AttemptLimiter;
  /** Per-user identities for one table object at one version. */
  #identities = new Map<string, Identity>();
  #cachedTable: AuthTable | null = null;
  #cachedVersion = -1;

  constructor(opts: AuthGateOptions) {
    this.#opts = opts;
    this.#nowMs = opts.nowMs ?? Date.now;
    this.#log = new LimitedLog(opts.logger, LOG_INTERVAL_MS, opts.monoNowMs);
    this.#attempts = new AttemptLimiter(opts, opts.monoNowMs);
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
   * null when auth is off. Throws unauthenticated (and logs it, one line per source and reason per minute).
   */
  /** Auth is off now (not required, and not enabled in the table): identify() answers null for any request. */
  isOff(): boolean {
    return !this.#opts.required && !this.#opts.table().enabled;
  }

  identify(authorization: string | undefined, conn: Connection): Identity | null {
    const table = this.#opts.table();
    if (!this.#opts.required && !table.enabled) return null;
    try {
      return this.#identify(table, authorization, conn);
    } catch (e) {
      const reason = (e as ConnectError).rawMessage;
      this.#log.warn(
        // The reasons are a short list of sentences (some name a user a token or certificate vouches for).
        `${conn.remote} ${reason}`,
        { remote: conn.remote, reason },
        'unauthenticated request refused',
      );
      throw e;
    }
  }

  #identify(table: AuthTable, authorization: string | undefined, conn: Connection): Identity {
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
      if (credentialFingerprint(u) !== claims.credential)
        throw unauthenticated(
          `token revoked: user ${claims.user} was deleted and created again, or its password changed, since it was issued; authenticate again`,
        );
      return this.#identity(table, claims.user);
    }
    const certUser = conn.clientCert?.commonName;
    if (certUser !== undefined && certUser !== '') {
      if (table.user(certUser) === undefined)
        throw unauthenticated(`client certificate for user ${certUser}, who does not exist`);
      return this.#identity(table, certUser);
    }
    if (conn.clientCertError !== null)
      throw unauthenticated(
        `the client certificate presented was not accepted: ${conn.clientCertError}; use one signed by the CA the node trusts (--tls-ca) and valid now, or send 'authorization: Bearer <token>'`,
      );
    throw unauthenticated(`authentication required: ${HOW}`);
  }

  /**
   * Before an Authenticate hashes anything: throws resource_exhausted past the attempt limits
   * (attempts.ts), logged one line per source per minute.
   */
  admitAttempt(remote: string): void {
    try {
      this.#attempts.admit(remote);
    } catch (e) {
      this.#log.warn(
        `${remote} attempts`,
        { remote, reason: (e as ConnectError).rawMessage },
        'Authenticate refused: over the attempt rate limit',
      );
      throw e;
    }
  }

  /** A failed Authenticate (wrong user name or password): one line per source per minute. */
  failedAttempt(remote: string, user: string): void {
    this.#log.warn(`${remote} authenticate`, { remote, user }, 'Authenticate failed: wrong user name or password');
  }

  /** A token for `user` (whose password was just checked). */
  issue(user: string): { token: string; ttlMs: number } {
    const table = this.#opts.table();
    const u = table.user(user);
    if (u === undefined || !table.enabled) throw unauthenticated('wrong user name or password');
    const ttlMs = this.#opts.tokenTtlMs;
    return {
      token: signToken(table.signingKey, {
        user,
        generation: u.generation,
        credential: credentialFingerprint(u),
        expiresAtMs: this.#nowMs() + ttlMs,
      }),
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
      const log = this.#log;
      id = {
        user,
        root,
        permissions,
        denied: (reason) => log.warn(`user ${user} denied`, { user, reason }, 'request refused: permission denied'),
      };
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
  throw denied(id, `user ${id.user} has no ${what(write)} permission on key ${JSON.stringify(key)}`);
}

/** Every key under `prefix` (a Range or a prefix Watch) must be covered by one permission's prefix. */
export function allowPrefix(id: Identity | null, prefix: string, write: boolean): void {
  if (id === null || id.root) return;
  for (const p of id.permissions) if (prefix.startsWith(p.prefix) && (!write || p.access === 'readwrite')) return;
  throw denied(
    id,
    `user ${id.user} has no ${what(write)} permission on every key under prefix ${JSON.stringify(prefix)} (a role must grant a prefix of it)`,
  );
}

/** Admin operations (membership, compaction, backups, users and roles) need the root role. */
export function requireRoot(id: Identity | null, operation: string): void {
  if (id === null || id.root) return;
  throw denied(id, `user ${id.user} may not ${operation}: that needs the root role`);
}

/** TTL grants belong to no key: making or keeping one needs read-write permission on some prefix. */
export function requireSomeWrite(id: Identity | null, operation: string): void {
  if (id === null || id.root || id.permissions.some((p) => p.access === 'readwrite')) return;
  throw denied(id, `user ${id.user} may not ${operation}: that needs read-write permission on some prefix`);
}
