// Users, roles and tokens on a real 3-node cluster of `leasekv serve --auth` processes (issue 15):
// unauthenticated and permission_denied on every surface (client library / Connect JSON, the fast
// path, SSE watch, txn, membership, backup), exact prefix boundaries, token renewal, and the auth
// state surviving snapshots and restarts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeasekvClient, LeasekvError } from '../client/index.ts';
import { START_HOOK_TIMEOUT_MS, START_TIMEOUT_MS, startTestCluster, type TestCluster } from './test-cluster.ts';

let cluster: TestCluster | null = null;
const dir = mkdtempSync(join(tmpdir(), 'leasekv-auth-'));
const pwFile = join(dir, 'root.password');
writeFileSync(pwFile, 'root-secret\n', { mode: 0o600 });
const ROOT = { user: 'root', password: 'root-secret' };
/** Long enough for a renewed token to reach a node before it expires, on a loaded machine. */
const TOKEN_TTL_MS = 5000;

before(
  async () => {
    cluster = await startTestCluster(3, {
      auth: true,
      'root-password-file': pwFile,
      'auth-token-ttl-ms': TOKEN_TTL_MS,
      'snapshot-threshold': 10,
    });
  },
  { timeout: START_HOOK_TIMEOUT_MS },
);

after(async () => {
  await cluster?.close();
  rmSync(dir, { recursive: true, force: true });
});

const endpoints = (): string[] => cluster?.nodes.map((n) => n.clientAddr) ?? [];
const client = (credentials?: { user: string; password: string } | { token: string }): LeasekvClient =>
  new LeasekvClient({
    endpoints: endpoints(),
    // Generous: the suite runs beside others on a loaded machine, and a change waits for its commit.
    deadlineMs: 20_000,
    ...(credentials === undefined ? {} : { credentials }),
  });

/** The error code a call fails with ('ok' if it succeeds). */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof LeasekvError) return e.code;
    throw e;
  }
}

/** Bounded wait until the leader has created the root user (it does so once elected). */
async function rootClient(): Promise<LeasekvClient> {
  // Bounded in time: starting the nodes (after a restart), electing a leader and hashing the
  // password take a minute and more on a loaded machine (as startTestCluster allows).
  const until = Date.now() + START_TIMEOUT_MS + 30_000;
  let last = '';
  while (Date.now() < until) {
    const c = client(ROOT);
    try {
      await c.put('probe', '1');
      return c;
    } catch (e) {
      last = String(e);
    }
    await c.close();
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`root never authenticated (last: ${last})\n${cluster?.output() ?? ''}`);
}

let root: LeasekvClient;

/**
 * A change by root. A change is sent once per call (its outcome unknown after a lost answer), so on
 * a loaded machine — a leader losing its lease while the change commits — it is asked again,
 * bounded; a change an earlier try made shows as 'already exists' / 'already has role', and counts.
 */
async function rootChange(method: string, body: Record<string, unknown>): Promise<string> {
  return retried(() => root.auth(method, body));
}

/** The outcome of `call`, asked again (bounded) while it fails for a passing reason (see rootChange). */
async function retried(call: () => Promise<unknown>): Promise<string> {
  const until = Date.now() + 60_000;
  for (let again = false; ; again = true) {
    try {
      await call();
      return 'ok';
    } catch (e) {
      if (!(e instanceof LeasekvError)) throw e;
      if (again && / already (exists|has role)/.test(e.message)) return 'ok';
      // Root's password is right: 'unauthenticated' means its token ran out between its renewal and
      // the node's check (the client renews once a call).
      const passing = e.code === 'unavailable' || e.code === 'deadline_exceeded' || e.code === 'unauthenticated';
      if (!passing || Date.now() > until) return e.code;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

test(
  'root sets up roles and users; strangers and wrong passwords are unauthenticated',
  { timeout: 240_000 },
  async () => {
    root = await rootClient();
    for (const [m, b] of [
      ['RoleAdd', { name: 'reader' }],
      ['RoleGrantPermission', { name: 'reader', permission: { prefix: 'app/', access: 'READ' } }],
      ['RoleAdd', { name: 'writer' }],
      ['RoleGrantPermission', { name: 'writer', permission: { prefix: 'app/w/', access: 'READWRITE' } }],
      ['UserAdd', { name: 'alice', password: 'alice-pw' }],
      ['UserGrantRole', { name: 'alice', role: 'reader' }],
      ['UserAdd', { name: 'bob', password: 'bob-pw' }],
      ['UserGrantRole', { name: 'bob', role: 'reader' }],
      ['UserGrantRole', { name: 'bob', role: 'writer' }],
      ['UserAdd', { name: 'carol', password: 'carol-pw' }],
    ] as const)
      assert.equal(await rootChange(m, b), 'ok', m);
    assert.equal(await outcome(root.put('app/x', '1')), 'ok');
    assert.equal(await outcome(root.auth('UserAdd', { name: 'alice', password: 'x' })), 'already_exists');

    const nobody = client();
    const wrong = client({ user: 'alice', password: 'nope' });
    const ghost = client({ user: 'mallory', password: 'x' });
    const forged = client({ token: 'lkv1.eyJ1Ijoicm9vdCIsImciOjEsImUiOjk5OTk5OTk5OTk5OTl9.AAAA' });
    try {
      assert.equal(await outcome(nobody.get('app/x')), 'unauthenticated');
      assert.equal(await outcome(nobody.put('app/x', '2')), 'unauthenticated');
      assert.equal(await outcome(wrong.get('app/x')), 'unauthenticated');
      assert.equal(await outcome(ghost.get('app/x')), 'unauthenticated');
      assert.equal(await outcome(forged.get('app/x')), 'unauthenticated');
      // The JSON fast path (the plain Get/Put shape) and SSE watch check too.
      const ep = endpoints()[0] ?? '';
      const r = await fetch(`http://${ep}/leasekv.v1.KV/Get`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"key":"app/x"}',
      });
      assert.equal(r.status, 401);
      assert.equal(((await r.json()) as { code: string }).code, 'unauthenticated');
      const sse = await fetch(`http://${ep}/v1/watch?key=app/x`);
      assert.equal(sse.status, 401);
      await sse.body?.cancel();
      const backup = await fetch(`http://${ep}/snapshot`);
      assert.equal(backup.status, 401);
    } finally {
      await Promise.all([nobody.close(), wrong.close(), ghost.close(), forged.close()]);
    }
  },
);

test(
  'a read-only role cannot write; prefix boundaries are exact; txn and watch need every key',
  { timeout: 60_000 },
  async () => {
    const alice = client({ user: 'alice', password: 'alice-pw' });
    const bob = client({ user: 'bob', password: 'bob-pw' });
    const carol = client({ user: 'carol', password: 'carol-pw' });
    try {
      assert.equal((await alice.get('app/x')).value, '1');
      assert.equal(await outcome(alice.put('app/x', '2')), 'permission_denied');
      assert.equal(await outcome(alice.delete('app/x')), 'permission_denied');
      assert.equal(await outcome(alice.get('app')), 'permission_denied', '"app/" does not cover "app"');
      assert.equal(await outcome(alice.get('app2/x')), 'permission_denied');
      assert.equal(await outcome(alice.range('app/')), 'ok');
      assert.equal(await outcome(alice.range('ap')), 'permission_denied', 'a range must lie inside a granted prefix');
      assert.equal(await outcome(carol.get('app/x')), 'permission_denied', 'a user without the role');
      assert.equal(await outcome(bob.put('app/w/k', 'v')), 'ok');
      assert.equal(await outcome(bob.put('app/x', 'v')), 'permission_denied');
      assert.equal(await outcome(bob.ttlGrant(5000)), 'ok');
      assert.equal(await outcome(alice.ttlGrant(5000)), 'permission_denied');
      // A txn needs write on what it changes in either branch and read on what it compares.
      const ok = {
        compare: [{ key: 'app/x', target: 'version' as const, result: '>' as const, value: 0 }],
        success: [{ op: 'put' as const, key: 'app/w/t', value: '1' }],
      };
      assert.equal(await outcome(bob.txn(ok)), 'ok');
      assert.equal(
        await outcome(bob.txn({ ...ok, failure: [{ op: 'put' as const, key: 'app/x', value: '9' }] })),
        'permission_denied',
      );
      assert.equal(
        await outcome(
          bob.txn({
            ...ok,
            compare: [{ key: 'other', target: 'version' as const, result: '=' as const, value: 0 }],
          }),
        ),
        'permission_denied',
      );
      assert.equal((await root.get('app/x')).value, '1', 'nothing refused was applied');
      // Watch: the whole prefix must be readable.
      const ctrl = new AbortController();
      const denied = await outcome(
        (async () => {
          for await (const _ of alice.watch('a', { prefix: true, signal: ctrl.signal })) break;
        })(),
      );
      assert.equal(denied, 'permission_denied');
      const seen = (async () => {
        for await (const w of alice.watch('app/', { prefix: true, signal: ctrl.signal })) return w.events[0]?.kv.key;
        return undefined;
      })();
      await new Promise((r) => setTimeout(r, 300));
      await root.put('app/seen', '1');
      assert.equal(await seen, 'app/seen');
      ctrl.abort();
    } finally {
      await Promise.all([alice.close(), bob.close(), carol.close()]);
    }
  },
);

test(
  'admin operations need root: members, compaction, users; root can manage members',
  { timeout: 60_000 },
  async () => {
    const bob = client({ user: 'bob', password: 'bob-pw' });
    try {
      assert.equal(await outcome(bob.cluster('TransferLeadership', {})), 'permission_denied');
      assert.equal(await outcome(bob.cluster('MemberRemove', { id: 'n3' })), 'permission_denied');
      assert.equal(await outcome(bob.compact(1)), 'permission_denied');
      assert.equal(await outcome(bob.auth('UserAdd', { name: 'eve', password: 'x' })), 'permission_denied');
      assert.equal(await outcome(bob.auth('UserList')), 'permission_denied');
      assert.equal(await outcome(bob.cluster('MemberList')), 'ok', 'MemberList stays open (joining members ask it)');
      assert.equal(await retried(() => root.cluster('TransferLeadership', {})), 'ok');
      assert.equal(await retried(() => root.compact(1)), 'ok');
    } finally {
      await bob.close();
    }
  },
);

test(
  'an expired token is renewed by the client; a password change revokes old tokens',
  { timeout: 60_000 },
  async () => {
    const alice = client({ user: 'alice', password: 'alice-pw' });
    try {
      assert.equal(await outcome(alice.get('app/x')), 'ok');
      const token = (await alice.authorization())?.replace('Bearer ', '') ?? '';
      const fixed = client({ token });
      assert.equal(await outcome(fixed.get('app/x')), 'ok');
      await new Promise((r) => setTimeout(r, TOKEN_TTL_MS + 200));
      assert.equal(await outcome(fixed.get('app/x')), 'unauthenticated', 'expired');
      assert.equal(await outcome(alice.get('app/x')), 'ok', 'renewed');
      const fresh = client({ token: (await alice.authorization())?.replace('Bearer ', '') ?? '' });
      assert.equal(await rootChange('UserChangePassword', { name: 'alice', password: 'new-pw' }), 'ok');
      assert.equal(await outcome(fresh.get('app/x')), 'unauthenticated', 'revoked by the password change');
      await Promise.all([fixed.close(), fresh.close()]);
    } finally {
      await alice.close();
    }
  },
);

test('users and roles survive snapshots and a restart of every node', { timeout: 240_000 }, async () => {
  assert.ok(cluster !== null);
  // Past the snapshot threshold (10): the auth entries are then only in the snapshot.
  for (let i = 0; i < 25; i++) await root.put(`fill/${i}`, 'x');
  await root.close();
  for (const n of cluster.nodes) await cluster.supervisor.act(n.id, 'restart');
  root = await rootClient();
  const alice = client({ user: 'alice', password: 'new-pw' });
  const old = client({ user: 'alice', password: 'alice-pw' });
  try {
    assert.equal((await alice.get('app/x')).value, '1');
    assert.equal(await outcome(alice.put('app/x', '3')), 'permission_denied');
    assert.equal(await outcome(old.get('app/x')), 'unauthenticated');
    const users = (await root.auth('UserList'))['users'] as { name: string }[];
    assert.deepEqual(
      users.map((u) => u.name),
      ['alice', 'bob', 'carol', 'root'],
    );
  } finally {
    await Promise.all([alice.close(), old.close(), root.close()]);
  }
});
