// Users and roles (issue 15), replicated through the log like every other command and part of every
// snapshot and backup (snapshot.ts). A role grants read or read-write on key prefixes; a user holds
// roles. The built-in role `root` grants every key and the admin operations (membership, compaction,
// backups, user and role management); the user `root` is created with it when auth is first enabled.
//
// Only password hashes are replicated (scrypt with a per-user salt, computed by the node that takes the
// request: docs/security.md); the token signing key is replicated too, so a token made by one member
// is accepted by every other. Like the rest of the state machine, applying is a pure function of the
// log: every refusal below is decided from the table alone, the same on every replica.
import { ByteReader, ByteWriter } from '../util/bytes.ts';

export const ROOT = 'root';
/** Longest user or role name (bytes); names are 1..this, printable, without ':' (the CLI's user:password). */
export const MAX_AUTH_NAME_BYTES = 128;
/** Most prefixes one role may hold, and most roles one user may hold. */
export const MAX_PERMISSIONS_PER_ROLE = 256;
export const MAX_ROLES_PER_USER = 64;

export type Access = 'read' | 'readwrite';

export interface Permission {
  /** Every key starting with this ("" = every key). */
  readonly prefix: string;
  readonly access: Access;
}

/** A password as stored: scrypt(password, salt), both base64. */
export interface PasswordHash {
  readonly salt: string;
  readonly hash: string;
}

export interface UserRecord extends PasswordHash {
  readonly name: string;
  readonly roles: readonly string[];
  /** Bumped when the password changes: tokens carry it, so older tokens stop working. */
  readonly generation: number;
}

export type AuthChange =
  | { readonly kind: 'enable'; readonly root: PasswordHash; readonly signingKey: string }
  | ({ readonly kind: 'user-add'; readonly name: string } & PasswordHash)
  | ({ readonly kind: 'user-passwd'; readonly name: string } & PasswordHash)
  | { readonly kind: 'user-delete'; readonly name: string }
  | { readonly kind: 'user-grant' | 'user-revoke'; readonly name: string; readonly role: string }
  | { readonly kind: 'role-add' | 'role-delete'; readonly name: string }
  | { readonly kind: 'role-grant'; readonly name: string; readonly prefix: string; readonly access: Access }
  | { readonly kind: 'role-revoke'; readonly name: string; readonly prefix: string };

/** Why a name is not acceptable (undefined: it is). */
export function badName(name: string, what: string): string | undefined {
  if (name.length === 0) return `${what} name must not be empty`;
  if (Buffer.byteLength(name) > MAX_AUTH_NAME_BYTES) return `${what} name is longer than ${MAX_AUTH_NAME_BYTES} bytes`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f:]/.test(name)) return `${what} name must not contain spaces, control characters or ':'`;
  return undefined;
}

export class AuthTable {
  private users = new Map<string, UserRecord>();
  private roles = new Map<string, Permission[]>();
  private key = '';
  /** Bumped on every applied change (not replicated): caches of identities compare it. */
  private versionValue = 0;

  /** Auth was enabled (a root user and a signing key exist); every member then enforces it. */
  get enabled(): boolean {
    return this.key !== '';
  }

  get signingKey(): string {
    return this.key;
  }

  get version(): number {
    return this.versionValue;
  }

  user(name: string): UserRecord | undefined {
    return this.users.get(name);
  }

  userList(): UserRecord[] {
    return [...this.users.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The role's permissions (undefined: no such role). `root` has none listed: it grants everything. */
  role(name: string): readonly Permission[] | undefined {
    return name === ROOT && this.enabled ? [] : this.roles.get(name);
  }

  roleList(): { name: string; permissions: readonly Permission[] }[] {
    const names = [...this.roles.keys()];
    if (this.enabled) names.push(ROOT);
    return names.sort().map((name) => ({ name, permissions: this.role(name) ?? [] }));
  }

  /** Applies a committed change; returns the refusal (nothing changed) or undefined. */
  apply(c: AuthChange): string | undefined {
    const err = this.run(c);
    if (err === undefined) this.versionValue++;
    return err;
  }

  private run(c: AuthChange): string | undefined {
    if (c.kind === 'enable') {
      if (this.enabled) return 'auth is already enabled';
      this.key = c.signingKey;
      this.users.set(ROOT, { name: ROOT, salt: c.root.salt, hash: c.root.hash, roles: [ROOT], generation: 1 });
      return undefined;
    }
    if (!this.enabled) return 'auth is not enabled (start a member with --auth)';
    const bad = badName(c.name, c.kind.startsWith('user') ? 'user' : 'role');
    if (bad !== undefined) return bad;
    if (c.kind.startsWith('user')) return this.runUser(c as Extract<AuthChange, { kind: `user-${string}` }>);
    return this.runRole(c as Extract<AuthChange, { kind: `role-${string}` }>);
  }

  private runUser(c: Extract<AuthChange, { kind: `user-${string}` }>): string | undefined {
    const u = this.users.get(c.name);
    if (c.kind === 'user-add') {
      if (u !== undefined) return `user ${c.name} already exists`;
      this.users.set(c.name, { name: c.name, salt: c.salt, hash: c.hash, roles: [], generation: 1 });
      return undefined;
    }
    if (u === undefined) return `no such user: ${c.name}`;
    switch (c.kind) {
      case 'user-passwd':
        this.users.set(c.name, { ...u, salt: c.salt, hash: c.hash, generation: u.generation + 1 });
        return undefined;
      case 'user-delete':
        if (c.name === ROOT) return 'the root user cannot be deleted';
        this.users.delete(c.name);
        return undefined;
      case 'user-grant':
        if (this.role(c.role) === undefined) return `no such role: ${c.role}`;
        if (u.roles.includes(c.role)) return `user ${c.name} already has role ${c.role}`;
        if (u.roles.length >= MAX_ROLES_PER_USER) return `user ${c.name} already has ${MAX_ROLES_PER_USER} roles`;
        this.users.set(c.name, { ...u, roles: [...u.roles, c.role].sort() });
        return undefined;
      case 'user-revoke':
        if (!u.roles.includes(c.role)) return `user ${c.name} does not have role ${c.role}`;
        if (c.name === ROOT && c.role === ROOT) return 'the root user keeps the root role';
        this.users.set(c.name, { ...u, roles: u.roles.filter((r) => r !== c.role) });
        return undefined;
    }
  }

  private runRole(c: Extract<AuthChange, { kind: `role-${string}` }>): string | undefined {
    if (c.name === ROOT) return 'the root role is built in and cannot be changed';
    const perms = this.roles.get(c.name);
    if (c.kind === 'role-add') {
      if (perms !== undefined) return `role ${c.name} already exists`;
      this.roles.set(c.name, []);
      return undefined;
    }
    if (perms === undefined) return `no such role: ${c.name}`;
    switch (c.kind) {
      case 'role-delete':
        this.roles.delete(c.name);
        for (const u of this.users.values())
          if (u.roles.includes(c.name)) this.users.set(u.name, { ...u, roles: u.roles.filter((r) => r !== c.name) });
        return undefined;
      case 'role-grant': {
        const rest = perms.filter((p) => p.prefix !== c.prefix);
        if (rest.length >= MAX_PERMISSIONS_PER_ROLE)
          return `role ${c.name} already has ${MAX_PERMISSIONS_PER_ROLE} permissions`;
        rest.push({ prefix: c.prefix, access: c.access });
        this.roles.set(
          c.name,
          rest.sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0)),
        );
        return undefined;
      }
      case 'role-revoke':
        if (!perms.some((p) => p.prefix === c.prefix))
          return `role ${c.name} has no permission on prefix ${JSON.stringify(c.prefix)}`;
        this.roles.set(
          c.name,
          perms.filter((p) => p.prefix !== c.prefix),
        );
        return undefined;
    }
  }

  /** For the snapshot: JSON, UTF-8 (empty when auth was never enabled). */
  encode(): Uint8Array {
    if (!this.enabled) return new Uint8Array(0);
    const roles = [...this.roles].map(([name, permissions]) => ({ name, permissions }));
    return new TextEncoder().encode(JSON.stringify({ key: this.key, users: this.userList(), roles }));
  }

  /** Replaces the contents with a snapshot's section (empty bytes: auth never enabled). Throws on bad bytes. */
  restore(bytes: Uint8Array): void {
    const users = new Map<string, UserRecord>();
    const roles = new Map<string, Permission[]>();
    let key = '';
    if (bytes.length > 0) {
      const v = JSON.parse(new TextDecoder().decode(bytes)) as { key?: unknown; users?: unknown; roles?: unknown };
      if (typeof v.key !== 'string' || v.key === '' || !Array.isArray(v.users) || !Array.isArray(v.roles))
        throw new Error('auth section: bad shape');
      key = v.key;
      for (const u of v.users as UserRecord[]) {
        if (typeof u.name !== 'string' || typeof u.salt !== 'string' || typeof u.hash !== 'string')
          throw new Error('auth section: bad user');
        const roleNames = Array.isArray(u.roles) ? u.roles.filter((r): r is string => typeof r === 'string') : [];
        users.set(u.name, {
          name: u.name,
          salt: u.salt,
          hash: u.hash,
          roles: roleNames,
          generation: Number(u.generation) || 1,
        });
      }
      for (const r of v.roles as { name?: unknown; permissions?: unknown }[]) {
        if (typeof r.name !== 'string' || !Array.isArray(r.permissions)) throw new Error('auth section: bad role');
        const perms: Permission[] = [];
        for (const p of r.permissions as Permission[]) {
          if (typeof p.prefix !== 'string' || (p.access !== 'read' && p.access !== 'readwrite'))
            throw new Error('auth section: bad permission');
          perms.push({ prefix: p.prefix, access: p.access });
        }
        roles.set(r.name, perms);
      }
    }
    this.users = users;
    this.roles = roles;
    this.key = key;
    this.versionValue++;
  }
}

/** The auth command's body (after the common command header, command.ts): one JSON change. */
export function writeAuthChange(w: ByteWriter, c: AuthChange): void {
  w.str(JSON.stringify(c));
}

const KINDS = new Set([
  'enable',
  'user-add',
  'user-passwd',
  'user-delete',
  'user-grant',
  'user-revoke',
  'role-add',
  'role-delete',
  'role-grant',
  'role-revoke',
]);

/** Decodes untrusted bytes; throws through `fail` (CommandDecodeError) on anything malformed. */
export function readAuthChange(r: ByteReader, fail: (m: string) => Error): AuthChange {
  let v: unknown;
  try {
    v = JSON.parse(r.str('auth change'));
  } catch {
    throw fail('auth change is not JSON');
  }
  if (typeof v !== 'object' || v === null) throw fail('auth change is not an object');
  const o = v as Record<string, unknown>;
  if (typeof o['kind'] !== 'string' || !KINDS.has(o['kind'])) throw fail('unknown auth change');
  const str = (k: string): string => {
    const x = o[k];
    if (typeof x !== 'string') throw fail(`auth change: ${k} is not a string`);
    return x;
  };
  const hash = (x: Record<string, unknown>): PasswordHash => {
    if (typeof x['salt'] !== 'string' || typeof x['hash'] !== 'string') throw fail('auth change: bad password hash');
    return { salt: x['salt'], hash: x['hash'] };
  };
  switch (o['kind']) {
    case 'enable': {
      const root = o['root'];
      if (typeof root !== 'object' || root === null) throw fail('auth change: no root password');
      return { kind: 'enable', root: hash(root as Record<string, unknown>), signingKey: str('signingKey') };
    }
    case 'user-add':
    case 'user-passwd':
      return { kind: o['kind'], name: str('name'), ...hash(o) };
    case 'user-delete':
    case 'role-add':
    case 'role-delete':
      return { kind: o['kind'], name: str('name') };
    case 'user-grant':
    case 'user-revoke':
      return { kind: o['kind'], name: str('name'), role: str('role') };
    case 'role-grant': {
      const access = str('access');
      if (access !== 'read' && access !== 'readwrite') throw fail('auth change: access is not read or readwrite');
      return { kind: 'role-grant', name: str('name'), prefix: str('prefix'), access };
    }
    default:
      return { kind: 'role-revoke', name: str('name'), prefix: str('prefix') };
  }
}
