// The CLI run from the folder of a `leasekv up` reaches that cluster without --endpoints, whatever
// its --base-port (session 13 outside-in audit: after `npx leasekv up --base-port 47001` every
// README command went to the default 7001–7003 and waited out its 5 s deadline).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { recordLocalCluster } from '../tls-settings.ts';
import { DEFAULT_ENDPOINTS, parse } from './common.ts';

test("without --endpoints the CLI uses the endpoints `up` recorded for this folder's data, else the default", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-up-endpoints-'));
  const home = process.cwd();
  const saved = { config: process.env['LEASEKV_CONFIG_HOME'], endpoints: process.env['LEASEKV_ENDPOINTS'] };
  t.after(() => {
    process.chdir(home);
    for (const [k, v] of [
      ['LEASEKV_CONFIG_HOME', saved.config],
      ['LEASEKV_ENDPOINTS', saved.endpoints],
    ] as const)
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    rmSync(dir, { recursive: true, force: true });
  });
  process.env['LEASEKV_CONFIG_HOME'] = join(dir, 'config');
  delete process.env['LEASEKV_ENDPOINTS'];
  const tls = join(dir, 'up', 'data', 'tls');
  mkdirSync(tls, { recursive: true });
  mkdirSync(join(dir, 'elsewhere'));
  const paths = { cacert: join(tls, 'ca.crt'), cert: join(tls, 'client.crt'), key: join(tls, 'client.key') };
  for (const f of Object.values(paths)) writeFileSync(f, '');
  const endpoints = (): string[] => parse(['k'], {}).common.endpoints;

  // An earlier run from this folder (its data since deleted), then `up --base-port 47001`.
  recordLocalCluster(['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'], paths);
  // `up` records its five ports (a member added later uses the fourth or fifth) and starts three.
  const started = ['127.0.0.1:47001', '127.0.0.1:47002', '127.0.0.1:47003'];
  recordLocalCluster([...started, '127.0.0.1:47004', '127.0.0.1:47005'], paths, process.env, started);
  // Another folder's cluster: not this folder's.
  recordLocalCluster(['127.0.0.1:9001'], { ...paths, cacert: join(dir, 'elsewhere', 'ca.crt') });
  writeFileSync(join(dir, 'elsewhere', 'ca.crt'), '');

  process.chdir(join(dir, 'up'));
  assert.deepEqual(endpoints(), started);
  assert.deepEqual(parse(['k', '--endpoints', '10.0.0.1:7001'], {}).common.endpoints, ['10.0.0.1:7001']);
  process.env['LEASEKV_ENDPOINTS'] = '10.0.0.2:7001';
  assert.deepEqual(endpoints(), ['10.0.0.2:7001']);
  delete process.env['LEASEKV_ENDPOINTS'];

  process.chdir(join(dir, 'elsewhere'));
  assert.deepEqual(endpoints(), DEFAULT_ENDPOINTS.split(','));
});
