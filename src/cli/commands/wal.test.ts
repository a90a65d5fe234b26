// `leasekv wal inspect`: reports a folder's contents, a torn tail (without repairing it) and corruption.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealFs } from '../../storage/fs.ts';
import { Wal } from '../../storage/wal.ts';
import { run } from './wal.ts';

async function capture(t: { mock: { method: (o: object, m: string, f: (...a: unknown[]) => void) => unknown } }, argv: string[]): Promise<{ code: number; out: string; err: string }> {
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
  for (let i = 1; i <= 100; i++) wal.append([{ index: i, term: 2, type: i === 1 ? 1 : 0, data: new TextEncoder().encode(`put k${i}`) }], { term: 2, votedFor: 'n3', commit: i });
  wal.saveSnapshot({ index: 40, term: 2, confState: { voters: ['n1', 'n2', 'n3'], learners: [] } }, new Uint8Array(8));
  wal.close();

  const json = await capture(t, ['inspect', dir, '-w', 'json', '--limit', '3']);
  assert.equal(json.code, 0);
  const o = JSON.parse(json.out) as { hardState: unknown; snapshot: { index: number }; entries: { index: number; preview: string }[]; segments: unknown[] };
  assert.deepEqual(o.hardState, { term: 2, commit: 100, votedFor: 'n3' });
  assert.equal(o.snapshot.index, 40);
  assert.deepEqual(o.entries.map((e) => e.index), [98, 99, 100]);
  assert.equal(o.entries[2]!.preview, 'put k100');
  assert.ok(o.segments.length > 1);

  const text = await capture(t, ['inspect', dir, '--from', '41', '--limit', '2']);
  assert.match(text.out, /term 2, voted for n3, commit 100/);
  assert.match(text.out, /index 40, term 2, voters n1,n2,n3/);
  assert.match(text.out, /\n\s+41\s+2 normal\s+7 {2}put k41\n\s+42 /);

  const segs = readdirSync(dir).filter((f) => f.endsWith('.wal')).sort();
  const last = join(dir, segs.at(-1)!);
  const size = statSync(last).size;
  truncateSync(last, size - 3);
  const torn = await capture(t, ['inspect', dir]);
  assert.match(torn.out, /torn tail .* bytes/);
  assert.equal(statSync(last).size, size - 3, 'inspect never repairs');

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
