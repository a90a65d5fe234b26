// `leasekv user` and `leasekv role` against a stand-in Auth service: each subcommand sends its call
// with the right body and prints "ok", the lists render as tables, and usage errors exit 2. (The
// same calls against a real cluster with --auth: src/cli/auth.test.ts.)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { leasekv, standIn, type StandIn } from './cli-test-util.ts';

const A = '/leasekv.v1.Auth/';
let node: StandIn;

before(async () => {
  node = await standIn({
    [`${A}UserList`]: { users: [{ name: 'alice', roles: ['reader', 'writer'] }] },
    [`${A}RoleList`]: {
      roles: [{ name: 'root' }, { name: 'reader', permissions: [{ prefix: 'app/', access: 'READ' }] }, { name: 'x' }],
    },
    [`${A}UserAdd`]: {},
    [`${A}UserGrantRole`]: {},
    [`${A}RoleAdd`]: {},
    [`${A}RoleGrantPermission`]: {},
    [`${A}RoleRevokePermission`]: {},
  });
});

after(() => node.close());

const run = (...args: string[]): ReturnType<typeof leasekv> => leasekv([...args, '--endpoints', node.endpoint]);

test('user and role changes send their call and print ok', async () => {
  const cases: [string[], string, unknown][] = [
    [['user', 'add', 'bob', '--password', 'pw'], 'UserAdd', { name: 'bob', password: 'pw' }],
    [['user', 'grant-role', 'bob', 'reader'], 'UserGrantRole', { name: 'bob', role: 'reader' }],
    [['role', 'add', 'reader'], 'RoleAdd', { name: 'reader' }],
    [
      ['role', 'grant-permission', 'reader', 'readwrite', 'app/'],
      'RoleGrantPermission',
      { name: 'reader', permission: { prefix: 'app/', access: 'READWRITE' } },
    ],
    [['role', 'revoke-permission', 'reader', 'app/'], 'RoleRevokePermission', { name: 'reader', prefix: 'app/' }],
  ];
  for (const [args, method, body] of cases) {
    const r = await run(...args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, 'ok\n');
    assert.deepEqual(node.requests.at(-1), { path: `${A}${method}`, body });
  }
});

test('user list and role list render as tables', async () => {
  const users = await run('user', 'list');
  assert.equal(users.code, 0, users.stderr);
  assert.match(users.stdout, /^USER\s+ROLES\nalice\s+reader,writer\n$/);
  const roles = await run('role', 'list');
  assert.equal(roles.code, 0, roles.stderr);
  assert.match(roles.stdout, /root\s+everything \(admin\)/);
  assert.match(roles.stdout, /reader\s+read\s+app\//);
  assert.match(roles.stdout, /x\s+\(none\)/);
});

test('usage errors exit 2: missing arguments, a bad access, an unknown subcommand', async () => {
  const sent = node.requests.length;
  for (const args of [
    ['user', 'add', 'bob'],
    ['role', 'grant-permission', 'reader', 'write', 'app/'],
    ['role', 'add'],
    ['user', 'frobnicate'],
  ]) {
    const r = await run(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
  }
  assert.equal(node.requests.length, sent, 'nothing sent');
  assert.equal((await leasekv(['role'])).code, 2);
  assert.equal((await leasekv(['role', '--help'])).code, 0);
});
