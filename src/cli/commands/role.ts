// leasekv role add|delete|list|grant-permission|revoke-permission (issue 15; docs/security.md):
// roles grant read or read-write on key prefixes (leasekv.v1.Auth). Every command needs the root role.
import { command, emit, field, makeClient, parse, renderTable, UsageError, want, type Format } from './common.ts';

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

const FORMATS: readonly Format[] = ['table', 'simple', 'json'];

async function change(
  rest: string[],
  args: number,
  what: string,
  body: (p: string[]) => [string, Record<string, unknown>],
): Promise<number> {
  const { common, positionals } = parse(rest, {}, { formats: ['simple', 'json'] });
  want(positionals, args, what);
  const [method, req] = body(positionals);
  const client = makeClient(common);
  try {
    const a = await client.auth(method, req, { deadlineMs: common.deadlineMs });
    emit(common.format, { simple: () => 'ok\n', json: () => a });
    return 0;
  } finally {
    await client.close();
  }
}

export function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return Promise.resolve(sub === undefined ? 2 : 0);
  }
  const name = `role ${sub}`;
  switch (sub) {
    case 'list':
      return command(
        name,
        USAGE,
        rest,
        async () => {
          const { common, positionals } = parse(rest, {}, { formats: FORMATS, defaultFormat: 'table' });
          want(positionals, 0, 'no arguments');
          const client = makeClient(common);
          try {
            const a = await client.auth('RoleList', {}, { deadlineMs: common.deadlineMs });
            type Perm = { prefix?: string; access?: string };
            const roles = (Array.isArray(a['roles']) ? a['roles'] : []) as { name?: string; permissions?: Perm[] }[];
            const rows = roles.flatMap((r) =>
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
            emit(common.format, {
              table: () => renderTable(['ROLE', 'ACCESS', 'PREFIX'], rows),
              simple: () => rows.map((r) => `${r.map(field).join(', ')}\n`).join(''),
              json: () => a,
            });
            return 0;
          } finally {
            await client.close();
          }
        },
        { formats: FORMATS, defaultFormat: 'table' },
      );
    case 'add':
    case 'delete':
      return command(name, USAGE, rest, () =>
        change(rest, 1, 'NAME', ([n]) => [sub === 'add' ? 'RoleAdd' : 'RoleDelete', { name: n }]),
      );
    case 'grant-permission':
      return command(name, USAGE, rest, () =>
        change(rest, 3, 'NAME read|readwrite PREFIX', ([n, access, prefix]) => {
          if (access !== 'read' && access !== 'readwrite')
            throw new UsageError(`access must be read or readwrite, not '${access ?? ''}'`);
          return [
            'RoleGrantPermission',
            { name: n, permission: { prefix, access: access === 'readwrite' ? 'READWRITE' : 'READ' } },
          ];
        }),
      );
    case 'revoke-permission':
      return command(name, USAGE, rest, () =>
        change(rest, 2, 'NAME PREFIX', ([n, prefix]) => ['RoleRevokePermission', { name: n, prefix }]),
      );
    default:
      process.stderr.write(`leasekv role: unknown subcommand '${sub}'\n\n${USAGE}\n`);
      return Promise.resolve(2);
  }
}
