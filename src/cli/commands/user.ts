// leasekv user add|delete|list|passwd|grant-role|revoke-role|token (issue 15; docs/security.md):
// users of a cluster with auth on (leasekv.v1.Auth). Everything but `token` needs the root role.
import { readFileSync } from 'node:fs';
import { command, emit, field, makeClient, parse, renderTable, UsageError, want, type Format } from './common.ts';

const USAGE = `usage: leasekv user list [-w table|simple|json]
       leasekv user add NAME (--password P | --password-file FILE|-)
       leasekv user passwd NAME (--password P | --password-file FILE|-)
       leasekv user delete NAME
       leasekv user grant-role NAME ROLE
       leasekv user revoke-role NAME ROLE
       leasekv user token

list         every user and their roles
add, passwd  create a user, or change a password (older tokens of that user stop working);
             --password-file - reads the first line of stdin (--password is visible to ps)
grant-role   give a user a role (leasekv role …); revoke-role takes it back
token        print a token for the credentials given (--user, LEASEKV_USER, or under leasekv up the
             root password file), for curl: -H "authorization: Bearer $(leasekv user token)"
Every command but token needs the root role.`;

const FORMATS: readonly Format[] = ['table', 'simple', 'json'];
const OPTIONS = { password: { type: 'string' }, 'password-file': { type: 'string' } } as const;

function passwordOf(values: { password?: string | undefined; 'password-file'?: string | undefined }): string {
  if (values.password !== undefined && values['password-file'] !== undefined)
    throw new UsageError('give --password or --password-file, not both');
  if (values.password !== undefined) return values.password;
  const file = values['password-file'];
  if (file === undefined)
    throw new UsageError('a password is needed: --password P or --password-file FILE (- for stdin)');
  const text = readFileSync(file === '-' ? 0 : file, 'utf8');
  const pw = (text.split(/\r?\n/)[0] ?? '').trim();
  if (pw === '') throw new UsageError(`no password in ${file === '-' ? 'stdin' : file}`);
  return pw;
}

/** One Auth call; prints "ok" (or the JSON answer with -w json). */
async function change(
  rest: string[],
  args: number,
  what: string,
  body: (p: string[], v: Record<string, unknown>) => [string, Record<string, unknown>],
): Promise<number> {
  const { common, positionals, values } = parse(rest, OPTIONS, { formats: ['simple', 'json'] });
  want(positionals, args, what);
  const [method, req] = body(positionals, values);
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
  const name = `user ${sub}`;
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
            const a = await client.auth('UserList', {}, { deadlineMs: common.deadlineMs });
            const users = (Array.isArray(a['users']) ? a['users'] : []) as { name?: string; roles?: string[] }[];
            const rows = users.map((u) => [u.name ?? '', (u.roles ?? []).join(',')]);
            emit(common.format, {
              table: () => renderTable(['USER', 'ROLES'], rows),
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
    case 'passwd':
      return command(name, USAGE, rest, () =>
        change(rest, 1, 'NAME', ([n], v) => [
          sub === 'add' ? 'UserAdd' : 'UserChangePassword',
          { name: n, password: passwordOf(v) },
        ]),
      );
    case 'delete':
      return command(name, USAGE, rest, () => change(rest, 1, 'NAME', ([n]) => ['UserDelete', { name: n }]));
    case 'grant-role':
    case 'revoke-role':
      return command(name, USAGE, rest, () =>
        change(rest, 2, 'NAME ROLE', ([n, role]) => [
          sub === 'grant-role' ? 'UserGrantRole' : 'UserRevokeRole',
          { name: n, role },
        ]),
      );
    case 'token':
      return command(name, USAGE, rest, async () => {
        const { common, positionals } = parse(rest, {}, { formats: ['simple'] });
        want(positionals, 0, 'no arguments');
        const client = makeClient(common);
        try {
          const h = await client.authorization();
          if (h === undefined) throw new UsageError('no credentials (or the cluster has no auth): nothing to print');
          process.stdout.write(`${h.replace(/^Bearer /, '')}\n`);
          return 0;
        } finally {
          await client.close();
        }
      });
    default:
      process.stderr.write(`leasekv user: unknown subcommand '${sub}'\n\n${USAGE}\n`);
      return Promise.resolve(2);
  }
}
