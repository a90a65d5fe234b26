// The CLI's implicit root password (./data/root.password of `leasekv up`) goes only to the cluster
// `up` started from this folder, never to whatever --endpoints names (session 9 audit: run from a
// checkout where `up` had run, `leasekv get k --endpoints http://10.0.0.5:7001` sent root's
// password of the local cluster to 10.0.0.5, in plaintext).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { recordLocalCluster } from '../tls-settings.ts';
import { credentialsFrom } from './credentials.ts';

test("./data/root.password is used for the endpoints `up` recorded with this folder's files, and for no other", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-creds-'));
  const home = process.cwd();
  t.after(() => {
    process.chdir(home);
    rmSync(dir, { recursive: true, force: true });
  });
  mkdirSync(join(dir, 'data', 'tls'), { recursive: true });
  writeFileSync(join(dir, 'data', 'root.password'), 'local-root\n');
  const files = { cacert: 'ca.crt', cert: 'client.crt', key: 'client.key' };
  for (const f of Object.values(files)) writeFileSync(join(dir, 'data', 'tls', f), '');
  const env = { LEASEKV_CONFIG_HOME: join(dir, 'config') };
  const paths = {
    cacert: join(dir, 'data', 'tls', files.cacert),
    cert: join(dir, 'data', 'tls', files.cert),
    key: join(dir, 'data', 'tls', files.key),
  };
  recordLocalCluster(['127.0.0.1:7001', '127.0.0.1:7002'], paths, env);
  // Another folder's cluster, recorded too: its endpoints do not get this folder's password.
  mkdirSync(join(dir, 'other'));
  recordLocalCluster(['127.0.0.1:8001'], { ...paths, cacert: join(dir, 'other', 'ca.crt') }, env);
  writeFileSync(join(dir, 'other', 'ca.crt'), '');
  process.chdir(dir);

  const root = { user: 'root', password: 'local-root', ifEnabled: true };
  assert.deepEqual(credentialsFrom({}, env, ['127.0.0.1:7001', '127.0.0.1:7002']), root);
  assert.equal(credentialsFrom({}, env, ['10.0.0.5:7001']), undefined);
  assert.equal(credentialsFrom({}, env, ['127.0.0.1:7001', '10.0.0.5:7001']), undefined);
  assert.equal(credentialsFrom({}, env, ['127.0.0.1:8001']), undefined);
  // Named explicitly, the file is the operator's choice for any endpoint.
  const file = join(dir, 'data', 'root.password');
  assert.deepEqual(credentialsFrom({}, { ...env, LEASEKV_ROOT_PASSWORD_FILE: file }, ['10.0.0.5:7001']), root);
  // Explicit credentials win as before.
  assert.deepEqual(credentialsFrom({ user: 'bob:pw' }, env, ['10.0.0.5:7001']), { user: 'bob', password: 'pw' });
});
