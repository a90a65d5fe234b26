// The CLI habits of issue 10 as a user runs them (`node bin/leasekv.mjs ...` against an API server
// over a fake backend): URL endpoints, -w table|json|simple, values from stdin or a file, typo
// suggestions, unambiguous scan output.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FakeBackend } from '../../server/api/fake-backend.ts';
import type { ApiServer } from '../../server/api/server.ts';
import { fakeServer } from '../../server/api/test-util.ts';

import { leasekv } from './cli-test-util.ts';

describe('leasekv CLI habits (issue 10)', () => {
  let server: ApiServer;
  let backend: FakeBackend;
  let ep: string;
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-cli-io-'));
  before(async () => {
    ({ server, backend } = await fakeServer());
    ep = `127.0.0.1:${server.port}`;
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('http:// endpoints (flag and LEASEKV_ENDPOINTS); https:// to a plaintext node says it does not speak TLS', async () => {
    const put = await leasekv(['put', 'url', 'ok', '--endpoints', `http://${ep}`]);
    const [get, tls] = await Promise.all([
      leasekv(['get', 'url', '--consistency', 'stale'], {
        env: { LEASEKV_ENDPOINTS: `http://127.0.0.1:1,http://${ep}/` },
      }),
      leasekv(['get', 'url', '--endpoints', `https://${ep}`, '--deadline-ms', '1000']),
    ]);
    assert.deepEqual([put.code, put.stdout], [0, 'OK\n'], put.stderr);
    assert.deepEqual([get.code, get.stdout], [0, 'ok\n'], get.stderr);
    assert.equal(tls.code, 1);
    assert.match(tls.stderr, /does not speak TLS on this port/);
  });

  test('values of 500 KiB from stdin and from --value-file, for put and cas; over the limit a clear error', async () => {
    const big = `${'a'.repeat(500 * 1024)}\tend\n`;
    const file = join(dir, 'value.txt');
    const other = 'b'.repeat(500 * 1024);
    writeFileSync(file, other);
    const put = await leasekv(['put', 'big', '-', '--endpoints', ep], { input: big });
    assert.deepEqual([put.code, put.stdout], [0, 'OK\n'], put.stderr);
    assert.equal(backend.data.get('big'), big);
    const [putFile, casFile, casStdin] = await Promise.all([
      leasekv(['put', 'big2', '--value-file', file, '--endpoints', ep]),
      leasekv(['cas', '--absent', 'big3', '--value-file', file, '--endpoints', ep]),
      leasekv(['cas', '--absent', 'fromstdin', '-', '--endpoints', ep], { input: 'piped' }),
    ]);
    for (const r of [putFile, casFile, casStdin]) assert.deepEqual([r.code, r.stdout], [0, 'OK\n'], r.stderr);
    assert.equal(backend.data.get('big2'), other);
    assert.equal(backend.data.get('big3'), other);
    assert.equal(backend.data.get('fromstdin'), 'piped');
    // cas KEY OLD - : NEW from stdin.
    const casOld = await leasekv(['cas', 'fromstdin', 'piped', '-', '--endpoints', ep], { input: big });
    assert.equal(casOld.code, 0, casOld.stderr);
    assert.equal(backend.data.get('fromstdin'), big);
    const tooBig = await leasekv(['put', 'huge', '-', '--endpoints', ep], { input: 'z'.repeat(1024 * 1024 + 1) });
    assert.equal(tooBig.code, 1);
    assert.match(tooBig.stderr, /leasekv put: invalid_argument: .*value is 1048577 bytes; the limit is 1048576 bytes/);
    const missing = await leasekv(['put', 'k', '--value-file', join(dir, 'nope'), '--endpoints', ep]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read --value-file .*nope: ENOENT/);
  });

  test('-w table|json|simple on get, put, del, cas, scan, status; unknown format exits 2', async () => {
    backend.data.set('t1', 'one');
    const [get, put, del, cas, scan, status, bad] = await Promise.all([
      leasekv(['get', 't1', '-w', 'table', '--endpoints', ep]),
      leasekv(['put', 't2', 'two', '--write-out', 'table', '--endpoints', ep]),
      leasekv(['del', 'nothing-here', '-w', 'json', '--endpoints', ep]),
      leasekv(['cas', '--absent', 't1', 'x', '-w', 'table', '--endpoints', ep]),
      leasekv(['scan', 't1', '-w', 'table', '--endpoints', ep]),
      leasekv(['status', '-w', 'simple', '--endpoints', ep]),
      leasekv(['get', 't1', '-w', 'yaml', '--endpoints', ep]),
    ]);
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /^KEY\s+VALUE\s+INDEX\s+READ\nt1\s+one\s+\d+\s+lease\n$/);
    assert.match(put.stdout, /^KEY\s+INDEX\nt2\s+\d+\n$/);
    assert.equal((JSON.parse(del.stdout) as { deleted: boolean }).deleted, false);
    assert.equal(cas.code, 1);
    assert.match(cas.stdout, /^KEY\s+SWAPPED\s+CURRENT\s+INDEX\nt1\s+false\s+one\s+\d+\n$/);
    assert.equal(scan.stdout, 'KEY  VALUE\nt1   one\n');
    assert.match(
      status.stdout,
      new RegExp(`^${ep.replace(/\./g, '\\.')}, n1, leader, 3, n1, \\d+, \\d+, held 850ms, \\d+, .+\\n$`),
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown output format 'yaml' for -w\/--write-out \(use one of: simple, table, json\)/);
  });

  test('scan output stays one line per key when keys or values hold tabs or newlines', async () => {
    backend.data.set('s\tkey', 'plain');
    backend.data.set('s\nnl', 'two\nlines');
    backend.data.set('s-quote', '"q"');
    const [simple, json] = await Promise.all([
      leasekv(['scan', 's', '--endpoints', ep]),
      leasekv(['scan', 's', '-w', 'json', '--endpoints', ep]),
    ]);
    assert.equal(simple.stdout, '"s\\tkey"\tplain\n"s\\nnl"\t"two\\nlines"\ns-quote\t"\\"q\\""\n');
    const back = simple.stdout
      .trimEnd()
      .split('\n')
      .map((l) => l.split('\t').map((f) => (f.startsWith('"') ? (JSON.parse(f) as string) : f)));
    assert.deepEqual(back, [
      ['s\tkey', 'plain'],
      ['s\nnl', 'two\nlines'],
      ['s-quote', '"q"'],
    ]);
    assert.deepEqual(
      (JSON.parse(json.stdout) as { kvs: { key: string; value: string }[] }).kvs.map(({ key, value }) => ({
        key,
        value,
      })),
      [
        { key: 's\tkey', value: 'plain' },
        { key: 's\nnl', value: 'two\nlines' },
        { key: 's-quote', value: '"q"' },
      ],
    );
  });

  test('typos: the nearest flag or command is suggested, exit 2', async () => {
    const [flag, cmd, far] = await Promise.all([
      leasekv(['get', 'k', '--endpoint', ep]),
      leasekv(['stauts']),
      leasekv(['frobnicate']),
    ]);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /^leasekv get: unknown flag --endpoint; did you mean --endpoints\?\n/);
    assert.equal(cmd.code, 2);
    assert.match(cmd.stderr, /^leasekv: unknown command 'stauts'; did you mean 'status'\?/);
    assert.equal(far.code, 2);
    assert.match(far.stderr, /^leasekv: unknown command 'frobnicate'\n/);
  });

  test('a reader that goes away (leasekv scan | head) ends the command quietly, exit 0, no stack trace', async () => {
    backend.data.set('pipe/a', 'x'.repeat(1000));
    const [scan, help] = await Promise.all([
      leasekv(['scan', 'pipe/', '--endpoints', ep], { closedStdout: true }),
      leasekv(['help'], { closedStdout: true }),
    ]);
    assert.deepEqual(scan, { code: 0, stdout: '', stderr: '' });
    assert.deepEqual(help, { code: 0, stdout: '', stderr: '' });
  });
});
