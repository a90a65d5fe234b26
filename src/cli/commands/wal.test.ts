// `leasekv wal inspect`: reports a folder's contents, a torn tail (without repairing it) and corruption.
import { DATA_FORMAT } from '../../storage/data_format.ts';
import { writeIdentity } from '../../storage/identity.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeSync,
  mkdirSync,
  openSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealFs } from '../../storage/fs.ts';
import { dataEnd, writeTornRecord } from '../../storage/test-util.ts';
import { Wal } from '../../storage/wal.ts';
import { run } from './wal.ts';

async function capture(
  t: { mock: { method: (o: object, m: string, f: (...a: unknown[]) => void) => unknown } },
  argv: string[],
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  t.mock.method(console, 'log', (...a: unknown[]) => void (out += `${a.join(' ')}\n`));
  t.mock.method(console, 'error', (...a: unknown[]) => void (err += `${a.join(' ')}\n`));
  const code = await run(argv);
  return { code, out, err };
}

test('wal inspect prints hard state, snapshot, segments and entries; reports torn tails and corruption', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-inspect-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { wal } = Wal.open(new RealFs(), dir, { segmentSizeBytes: 2048 });
  for (let i = 1; i <= 100; i++)
    wal.append([{ index: i, term: 2, type: i === 1 ? 1 : 0, data: new TextEncoder().encode(`put k${i}`) }], {
      term: 2,
      votedFor: 'n3',
      commit: i,
    });
  wal.saveSnapshot({ index: 40, term: 2, confState: { voters: ['n1', 'n2', 'n3'], learners: [] } }, new Uint8Array(8));
  wal.close();

  const json = await capture(t, ['inspect', dir, '-w', 'json', '--limit', '3']);
  assert.equal(json.code, 0);
  const o = JSON.parse(json.out) as {
    hardState: unknown;
    snapshot: { index: number };
    entries: { index: number; preview: string }[];
    segments: unknown[];
  };
  assert.deepEqual(o.hardState, { term: 2, commit: 100, votedFor: 'n3' });
  assert.equal(o.snapshot.index, 40);
  assert.deepEqual(
    o.entries.map((e) => e.index),
    [98, 99, 100],
  );
  assert.equal(o.entries[2]!.preview, 'put k100');
  assert.ok(o.segments.length > 1);

  const text = await capture(t, ['inspect', dir, '--from', '41', '--limit', '2']);
  assert.match(text.out, /term 2, voted for n3, commit 100/);
  assert.match(text.out, /index 40, term 2, voters n1,n2,n3/);
  assert.match(text.out, /\n\s+41\s+2 normal\s+7 {2}put k41\n\s+42 /);

  const segs = readdirSync(dir)
    .filter((f) => f.endsWith('.wal'))
    .sort();
  const last = join(dir, segs.at(-1)!);
  const size = statSync(last).size;
  const fd = openSync(last, 'r+');
  writeTornRecord((at, bytes) => writeSync(fd, bytes, 0, bytes.length, at), dataEnd(new RealFs(), last));
  closeSync(fd);
  const torn = await capture(t, ['inspect', dir]);
  assert.match(torn.out, /torn tail .* bytes .*zeroed on next start/);
  const before = readFileSync(last);
  truncateSync(last, size - 3);
  const cut = await capture(t, ['inspect', dir]);
  assert.equal(cut.code, 1);
  assert.match(cut.err, /WAL segment shorter than it was created: the file is \d+ bytes but was created/);
  assert.equal(statSync(last).size, size - 3, 'inspect never repairs');
  writeFileSync(last, before);

  const b = readFileSync(last);
  b[30] = b[30]! ^ 1;
  writeFileSync(last, b);
  const bad = await capture(t, ['inspect', dir]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /storage corrupt: .*\.wal at byte \d+: .*replace this member/);
  assert.equal((await capture(t, ['bogus'])).code, 2);
});

test('wal inspect on a file or a missing folder: one line and exit 1, no stack trace', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-inspect-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'not-a-folder');
  writeFileSync(file, 'x');
  const r = await capture(t, ['inspect', file]);
  assert.equal(r.code, 1);
  assert.match(r.err, /not a folder/);
  const missing = await capture(t, ['inspect', join(dir, 'missing')]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /no such folder/);
});

test('wal inspect on a folder that is not a data folder: exit 1, naming the data folders inside it', async (t) => {
  const parent = mkdtempSync(join(tmpdir(), 'leasekv-inspect-'));
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  // What `leasekv up` leaves: PARENT/n1, PARENT/n2 with data, and an unrelated folder.
  for (const id of ['n2', 'n1']) {
    const { wal } = Wal.open(new RealFs(), join(parent, id), { segmentSizeBytes: 2048 });
    wal.append([{ index: 1, term: 1, type: 1, data: new Uint8Array(0) }], { term: 1, votedFor: id, commit: 1 });
    wal.close();
  }
  mkdirSync(join(parent, 'logs'));
  const r = await capture(t, ['inspect', parent]);
  assert.equal(r.code, 1);
  assert.equal(r.out, '');
  assert.match(
    r.err,
    /is not a node's data folder: it holds no WAL segments \(NNNNNNNNNNNNNNNN\.wal\) and no snapshot\.snap, but it holds data folders: .*\/n1, .*\/n2; inspect one of them/,
  );
  assert.doesNotMatch(r.err, /logs/);
  const json = await capture(t, ['inspect', parent, '-w', 'json']);
  assert.equal(json.code, 1);
  const empty = await capture(t, ['inspect', join(parent, 'logs')]);
  assert.equal(empty.code, 1);
  assert.match(empty.err, /logs is not a node's data folder: .*; give a node's --data-dir$/m);
  // The data folders themselves still inspect fine.
  assert.equal((await capture(t, ['inspect', join(parent, 'n1'), '--write-out', 'json'])).code, 0);
});

test('wal: -w table|json, typos suggested, usage errors exit 2, --help exits 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-inspect-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const typo = await capture(t, ['inspect', dir, '--limt', '3']);
  assert.equal(typo.code, 2);
  assert.match(typo.err, /^leasekv wal: unknown flag --limt; did you mean --limit\?/);
  const sub = await capture(t, ['inpsect', dir]);
  assert.equal(sub.code, 2);
  assert.match(sub.err, /unknown subcommand 'inpsect'; did you mean 'inspect'\?/);
  const fmt = await capture(t, ['inspect', dir, '-w', 'simple']);
  assert.equal(fmt.code, 2);
  assert.match(fmt.err, /-w simple is not offered by this command \(use one of: table, json\)/);
  for (const argv of [['--help'], ['inspect', '--help'], ['inspect', dir, '-h']]) {
    const h = await capture(t, argv);
    assert.equal(h.code, 0, argv.join(' '));
    assert.match(h.out, /usage: leasekv wal inspect DIR/);
  }
});

test('wal inspect says the data format: not recorded before 0.2.0, the marker after, a newer one refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-inspect-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { wal } = Wal.open(new RealFs(), dir, { segmentSizeBytes: 2048 });
  wal.append([{ index: 1, term: 1, type: 1, data: new Uint8Array(0) }], { term: 1, votedFor: 'n1', commit: 1 });
  wal.close();
  const base = {
    clusterId: 'c',
    clusterToken: 't',
    memberId: 'n1',
    incarnation: 'i',
    how: 'bootstrap',
    createdAt: '2026-12-03T00:00:00.000Z',
    initialMembers: [{ id: 'n1', peerAddr: 'h:1', clientAddr: 'h:2' }],
    peerIncarnations: {},
  } as const;
  writeIdentity(dir, base);
  assert.match(
    (await capture(t, ['inspect', dir])).out,
    /^data format +not recorded \(written before leasekv 0\.2\.0/m,
  );
  writeIdentity(dir, { ...base, dataFormat: DATA_FORMAT, writtenBy: '0.2.0' });
  assert.match(
    (await capture(t, ['inspect', dir])).out,
    new RegExp(`^data format +${DATA_FORMAT}, last opened by leasekv 0\\.2\\.0$`, 'm'),
  );
  writeIdentity(dir, { ...base, dataFormat: DATA_FORMAT + 1, writtenBy: '9.0.0' });
  const newer = await capture(t, ['inspect', dir]);
  assert.equal(newer.code, 1);
  assert.match(
    newer.err,
    /is in data format \d+, last written by leasekv 9\.0\.0; this leasekv .* reads data formats 1 to \d+/,
  );
});
