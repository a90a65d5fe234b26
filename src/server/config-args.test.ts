// serve's settings from a --config file and the environment: what an operator's file or unit gets
// wrong is named (session 11 operator audit).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
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

test("LEASEKV_* variables that no command reads are named, with the nearest serve variable; serve's and the CLI's are not", () => {
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
    'LEASEKV_DATADIR is not a leasekv serve setting and is ignored; did you mean LEASEKV_DATA_DIR?',
    'LEASEKV_PEER is not a leasekv serve setting and is ignored; did you mean LEASEKV_PEERS?',
    'LEASEKV_QQQQQQQQ is not a leasekv serve setting and is ignored',
  ]);
  assert.deepEqual(unknownVariables({ LEASEKV_ID: 'n1', LEASEKV_USER: 'root' }), []);
});
