// serve's settings from a --config file and the environment: what an operator's file or unit gets
// wrong is named (session 11 operator audit).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NodeConfigError } from './config-flags.ts';
import { rawFromArgs, unknownVariables } from './config-args.ts';

function withFile(body: object, f: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-config-args-'));
  try {
    const path = join(dir, 'c.json');
    writeFileSync(path, JSON.stringify(body));
    f(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('--config: a list is the comma-separated value, an object id=HOST:PORT pairs', () => {
  withFile(
    {
      peers: ['n1=10.0.0.1:7101', 'n2=10.0.0.2:7101'],
      join: ['10.0.0.1:7001'],
      'client-addrs': { n1: '10.0.0.1:7001' },
    },
    (path) => {
      const raw = rawFromArgs(['--config', path], {});
      // Before: the list was read as an object, '0=n1=10.0.0.1:7101,1=…', refused as "--peers (0): not HOST:PORT".
      assert.equal(raw.peers, 'n1=10.0.0.1:7101,n2=10.0.0.2:7101');
      assert.equal(raw.join, '10.0.0.1:7001');
      assert.equal(raw.clientAddrs, 'n1=10.0.0.1:7001');
    },
  );
});

test('--config: an unknown setting is refused with the nearest known one', () => {
  withFile({ leaseMS: 500, 'heartbeat-msec': 50 }, (path) => {
    assert.throws(
      () => rawFromArgs(['--config', path], {}),
      (e: unknown) =>
        e instanceof NodeConfigError && /unknown setting 'leaseMS'; did you mean 'leaseMs'\?/.test(e.message),
    );
  });
});

test("LEASEKV_* variables that no command reads are named, with the nearest known one; serve's and the CLI's are not", () => {
  const env = {
    LEASEKV_PEER: 'n1=10.0.0.1:7101',
    LEASEKV_DATADIR: '/d',
    LEASEKV_QQQQQQQQ: '1',
    LEASEKV_PEERS: 'n1=10.0.0.1:7101',
    LEASEKV_ENDPOINTS: 'x',
    LEASEKV_FENCING_TOKEN: '3',
    PATH: '/bin',
  };
  assert.deepEqual(unknownVariables(env), [
    'LEASEKV_DATADIR is not a leasekv setting and is ignored; did you mean LEASEKV_DATA_DIR?',
    'LEASEKV_PEER is not a leasekv setting and is ignored; did you mean LEASEKV_PEERS?',
    'LEASEKV_QQQQQQQQ is not a leasekv setting and is ignored',
  ]);
  assert.deepEqual(unknownVariables({ LEASEKV_ID: 'n1', LEASEKV_USER: 'root' }), []);
});

test('every LEASEKV_* variable the sources read is known (a new one must be added to OTHER_VARIABLES or be a flag)', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const names = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      // config-args.ts names typos in its comments on purpose.
      else if (/\.(ts|mjs)$/.test(e.name) && !e.name.endsWith('.test.ts') && e.name !== 'config-args.ts')
        for (const m of readFileSync(path, 'utf8').matchAll(/LEASEKV_[A-Z0-9_]*[A-Z0-9]/g)) names.add(m[0]);
    }
  };
  for (const dir of ['src', 'bin', 'scripts']) walk(join(root, dir));
  assert.ok(names.has('LEASEKV_ENDPOINTS') && names.has('LEASEKV_PEERS'), [...names].join(' '));
  assert.deepEqual(unknownVariables(Object.fromEntries([...names].map((n) => [n, '1']))), []);
});
