// leasekv user add|delete|list|passwd|grant-role|revoke-role|token (issue 15; docs/security.md):
// users of a cluster with auth on (leasekv.v1.Auth). Everything but `token` needs the root role.
import { readFileSync } from 'node:fs';
import {
  authCommand,
  command,
  dispatch,
  listCommand,
  parse,
  UsageError,
  want,
  withClient,
  type Subcommand,
} from './common.ts';

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

/** A user command of one Auth call with `args` positionals named by `what`. */
const authCall =
  (
    args: number,
    what: string,
    body: (p: string[], v: Record<string, unknown>, sub: string) => [string, Record<string, unknown>],
  ): Subcommand =>
  (rest, sub) =>
    authCommand(`user ${sub}`, USAGE, rest, { options: OPTIONS, args, what, body: (p, v) => body(p, v, sub) });

export function run(argv: string[]): Promise<number> {
  return dispatch('user', USAGE, argv, {
    list: (rest) =>
      listCommand('user list', USAGE, rest, {
        call: (client, opts) => client.auth('UserList', {}, opts),
        headers: ['USER', 'ROLES'],
        rows: (a) =>
          ((Array.isArray(a['users']) ? a['users'] : []) as { name?: string; roles?: string[] }[]).map((u) => [
            u.name ?? '',
            (u.roles ?? []).join(','),
          ]),
      }),
    add: authCall(1, 'NAME', ([n], v) => ['UserAdd', { name: n, password: passwordOf(v) }]),
    passwd: authCall(1, 'NAME', ([n], v) => ['UserChangePassword', { name: n, password: passwordOf(v) }]),
    delete: authCall(1, 'NAME', ([n]) => ['UserDelete', { name: n }]),
    'grant-role': authCall(2, 'NAME ROLE', ([n, role]) => ['UserGrantRole', { name: n, role }]),
    'revoke-role': authCall(2, 'NAME ROLE', ([n, role]) => ['UserRevokeRole', { name: n, role }]),
    token: (rest) =>
      command('user token', USAGE, rest, async () => {
        const { common, positionals } = parse(rest, {}, { formats: ['simple'] });
        want(positionals, 0, 'no arguments');
        const h = await withClient(common, (client) => client.authorization());
        if (h === undefined) throw new UsageError('no credentials (or the cluster has no auth): nothing to print');
        process.stdout.write(`${h.replace(/^Bearer /, '')}\n`);
        return 0;
      }),
  });
}
