// Client credentials (issue 15; docs/security.md): a user name and password, exchanged for a token
// with leasekv.v1.Auth/Authenticate on first use and again when the token is refused (expired,
// revoked), or a token given as is. The token travels as `authorization: Bearer <token>`.

/**
 * `{user, password}`: the client authenticates itself; `{token}`: a token made elsewhere (not renewed).
 * `ifEnabled`: use them only if the cluster has auth on (else send none; the CLI's implicit root
 * credentials under `leasekv up`).
 */
export type Credentials =
  { readonly user: string; readonly password: string; readonly ifEnabled?: boolean } | { readonly token: string };

/** What Authenticate answers on a cluster without auth (server/api/auth-handlers.ts). */
const NOT_ENABLED = 'auth is not enabled';

export class Authenticator {
  #token: string | undefined;
  #pending: Promise<void> | undefined;

  constructor(
    private readonly creds: Credentials,
    /** Authenticate: user + password → token. */
    private readonly login: (user: string, password: string) => Promise<string>,
  ) {
    if ('token' in creds) this.#token = creds.token;
  }

  /** The header value for the next request (undefined until authenticated). */
  header(): string | undefined {
    return this.#token === undefined || this.#token === '' ? undefined : `Bearer ${this.#token}`;
  }

  /** Whether a refused token can be replaced (password credentials). */
  get renewable(): boolean {
    return 'password' in this.creds;
  }

  /** Authenticates if there is no token yet; concurrent callers share one Authenticate call. */
  ensure(): Promise<void> {
    if (this.#token !== undefined || !('password' in this.creds)) return Promise.resolve();
    const { user, password } = this.creds;
    const optional = this.creds.ifEnabled === true;
    this.#pending ??= this.login(user, password).then(
      (t) => {
        this.#token = t;
        this.#pending = undefined;
      },
      (err: unknown) => {
        this.#pending = undefined;
        // No auth on this cluster: go on without a token ('' sends no header).
        if (optional && err instanceof Error && err.message.includes(NOT_ENABLED)) this.#token = '';
        else throw err;
      },
    );
    return this.#pending;
  }

  /** Forgets a token the server refused (only `stale`, so one refusal does not discard a newer token). */
  invalidate(stale: string | undefined): void {
    if (this.renewable && stale !== undefined && this.header() === stale) this.#token = undefined;
  }
}
