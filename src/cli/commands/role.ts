// leasekv role add|delete|list|grant-permission|revoke-permission (issue 15; docs/security.md):
// roles grant read or read-write on key prefixes (leasekv.v1.Auth). Every command needs the root role.
import { authCommand, dispatch, listCommand, UsageError, type Subcommand } from './common.ts';

const USAGE = `usage: leasekv role list [-w table|simple|json]
       leasekv role add NAME
       leasekv role delete NAME
       leasekv role grant-permission NAME read|readwrite PREFIX
       leasekv role revoke-permission NAME PREFIX

A permission covers every key that starts with PREFIX, byte for byte ("app/" covers "app/x" but
not "app" nor "app2/x"; "" covers every key). read: get, scan, watch, and the compares and reads of a
txn; readwrite: also put, del, cas, TTL grants and a txn's writes. The built-in role root allows
everything, including membership, compaction, backups and users and roles. Granting a prefix the
role already has replaces its access. Every command needs the root role.`;

type Perm = { prefix?: string; access?: string };

function roleRows(a: Record<string, unknown>): string[][] {
  const roles = (Array.isArray(a['roles']) ? a['roles'] : []) as { name?: string; permissions?: Perm[] }[];
  return roles.flatMap((r) =>
    r.name === 'root'
      ? [['root', 'everything (admin)', '']]
      : (r.permissions ?? []).length === 0
        ? [[r.name ?? '', '(none)', '']]
        : (r.permissions ?? []).map((p) => [
            r.name ?? '',
            p.access === 'READWRITE' ? 'readwrite' : 'read',
            p.prefix === undefined || p.prefix === '' ? '(every key)' : p.prefix,
          ]),
  );
}

const nameOnly =
  (method: string): Subcommand =>
  (rest, sub) =>
    authCommand(`role ${sub}`, USAGE, rest, {
      options: {},
      args: 1,
      what: 'NAME',
      body: ([n]) => [method, { name: n }],
    });

export function run(argv: string[]): Promise<number> {
  return dispatch('role', USAGE, argv, {
    list: (rest) =>
      listCommand('role list', USAGE, rest, {
        call: (client, opts) => client.auth('RoleList', {}, opts),
        headers: ['ROLE', 'ACCESS', 'PREFIX'],
        rows: roleRows,
      }),
    add: nameOnly('RoleAdd'),
    delete: nameOnly('RoleDelete'),
    'grant-permission': (rest) =>
      authCommand('role grant-permission', USAGE, rest, {
        options: {},
        args: 3,
        what: 'NAME read|readwrite PREFIX',
        body: ([n, access, prefix]) => {
          if (access !== 'read' && access !== 'readwrite')
            throw new UsageError(`access must be read or readwrite, not '${access ?? ''}'`);
          return [
            'RoleGrantPermission',
            { name: n, permission: { prefix, access: access === 'readwrite' ? 'READWRITE' : 'READ' } },
          ];
        },
      }),
    'revoke-permission': (rest) =>
      authCommand('role revoke-permission', USAGE, rest, {
        options: {},
        args: 2,
        what: 'NAME PREFIX',
        body: ([n, prefix]) => ['RoleRevokePermission', { name: n, prefix }],
      }),
  });
}
