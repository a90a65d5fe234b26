// Real files (issue 4): kill -9 a writer mid-stream and check every acknowledged record survives;
// tear, cut and flip bytes in real segment files and check the recovery rules (a torn write is
// repaired, a cut refused: docs/storage.md "Cuts and torn writes").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  openSync,
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
import { fileURLToPath } from 'node:url';
import { CRASH_CHILD_SEGMENT_BYTES, payloadFor, snapshotBytesFor } from './crash_child.ts';
import { StorageCorruptError, WalCutError } from './errors.ts';
import { scanFrames } from './frame.ts';
import { RealFs } from './fs.ts';
import { SNAPSHOT_SAVE_TEMP_FILE } from './snapshot_file.ts';
import { dataEnd, writeTornRecord } from './test-util.ts';
import { Wal } from './wal.ts';

const CHILD = fileURLToPath(new URL('./crash_child.ts', import.meta.url));
const OPTS = { segmentSizeBytes: CRASH_CHILD_SEGMENT_BYTES };

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-wal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Runs the child until it has acknowledged at least `killAfter` (and, with `snapshots`, put one in
 * place), then SIGKILLs it. Returns the highest ack and the snapshots it reported.
 */
function runAndKill(dir: string, killAfter: number, mode: 'plain' | 'snapshots' = 'plain'): Promise<number> {
  return runAndKillSaving(dir, killAfter, mode).then((r) => r.acked);
}

function runAndKillSaving(
  dir: string,
  killAfter: number,
  mode: 'plain' | 'snapshots',
): Promise<{ acked: number; snapshots: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, '1000000', mode], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let acked = 0;
    let buf = '';
    let killed = false;
    let snapshots = 0;
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) {
        if (l.startsWith('ack ')) acked = Math.max(acked, Number(l.slice(4)));
        if (l.startsWith('snap ')) snapshots++;
      }
      if (acked >= killAfter && (mode === 'plain' || snapshots > 0) && !killed) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited ${code} ${signal} before being killed`));
      else resolve({ acked, snapshots });
    });
  });
}

test('kill -9 mid-stream: every acknowledged entry is there after reopening', async (t) => {
  const dir = tempDir(t);
  let lastAcked = 0;
  for (const killAfter of [200, 500, 800]) {
    const acked = await runAndKill(dir, killAfter);
    assert.ok(acked >= killAfter);
    const { wal, state, repaired } = Wal.open(new RealFs(), dir, OPTS);
    wal.close();
    const byIndex = new Map(state.entries.map((e) => [e.index, e]));
    for (let i = 1; i <= acked; i++)
      assert.deepEqual(byIndex.get(i)?.data, payloadFor(i), `acknowledged entry ${i} lost`);
    assert.equal(state.entries[0]?.index, 1);
    assert.ok(state.hardState.commit >= acked - 3 && state.hardState.term === 1);
    if (repaired !== null) assert.match(repaired.file, /\.wal$/);
    lastAcked = acked;
  }
  assert.ok(readdirSync(dir).filter((f) => f.endsWith('.wal')).length > 1, 'segments rotated');
  assert.ok(lastAcked >= 800);
});

test('kill -9 while snapshots are written beside the WAL: acknowledged entries and a whole snapshot survive', async (t) => {
  const dir = tempDir(t);
  let saved = 0;
  for (const killAfter of [150, 420, 730, 1010]) {
    const { acked, snapshots } = await runAndKillSaving(dir, killAfter, 'snapshots');
    saved += snapshots;
    const { wal, state } = Wal.open(new RealFs(), dir, OPTS);
    const snap = state.snapshot?.index ?? 0;
    const file = wal.loadSnapshot();
    wal.close();
    assert.equal(file?.meta.index ?? 0, snap, 'the snapshot file and the log agree');
    if (file !== null) assert.ok(Buffer.from(file.data).equals(Buffer.from(snapshotBytesFor(snap))), 'snapshot whole');
    assert.equal(state.entries[0]?.index ?? snap + 1, snap + 1);
    const byIndex = new Map(state.entries.map((e) => [e.index, e]));
    for (let i = snap + 1; i <= acked; i++)
      assert.deepEqual(byIndex.get(i)?.data, payloadFor(i), `acknowledged entry ${i} lost`);
    assert.ok(!readdirSync(dir).includes(SNAPSHOT_SAVE_TEMP_FILE), 'the temp file is removed on open');
  }
  assert.ok(saved >= 4, `${saved} snapshots put in place`);
});

function writeSome(dir: string, n: number): void {
  const { wal } = Wal.open(new RealFs(), dir, OPTS);
  for (let i = 1; i <= n; i++)
    wal.append([{ index: i, term: 2, type: 0, data: payloadFor(i) }], { term: 2, votedFor: null, commit: i });
  wal.close();
}
const segments = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.wal'))
    .sort();

test('a torn write in a real segment (past the last fsync) is zeroed and reported; the log goes on', (t) => {
  const dir = tempDir(t);
  writeSome(dir, 600);
  const last = join(dir, segments(dir).at(-1)!);
  const size = statSync(last).size;
  const end = dataEnd(new RealFs(), last);
  const fd = openSync(last, 'r+');
  const torn = writeTornRecord((at, b) => writeSync(fd, b, 0, b.length, at), end);
  closeSync(fd);
  const { wal, state, repaired } = Wal.open(new RealFs(), dir, OPTS);
  assert.deepEqual(repaired, { file: last, offset: end, bytesDropped: torn });
  assert.equal(statSync(last).size, size, 'a segment keeps the size it was created with');
  assert.equal(dataEnd(new RealFs(), last), end);
  assert.equal(state.entries.length, 600);
  wal.append([{ index: 601, term: 2, type: 0, data: payloadFor(601) }], null);
  wal.close();
  const again = Wal.open(new RealFs(), dir, OPTS);
  assert.equal(again.repaired, null, 'repair is durable');
  assert.equal(again.state.entries.length, 601);
  again.wal.close();
});

test('a real segment cut short (mid-record, at a record boundary, to its header, to nothing) is refused', (t) => {
  const probe = tempDir(t);
  writeSome(probe, 600);
  const lastName = segments(probe).at(-1)!;
  const frames = scanFrames(readFileSync(join(probe, lastName))).frames;
  const end = frames.at(-1)!.end;
  const cuts: [string, number, number | null][] = [
    ['mid-record', end - 7, CRASH_CHILD_SEGMENT_BYTES],
    ['at a record boundary', frames.at(-2)!.end, CRASH_CHILD_SEGMENT_BYTES],
    ['after the last record', end, CRASH_CHILD_SEGMENT_BYTES],
    ['to its first record', frames[0]!.end, CRASH_CHILD_SEGMENT_BYTES],
    ['inside its first record', 20, null],
    ['to nothing', 0, null],
  ];
  for (const [what, at, expected] of cuts) {
    const dir = tempDir(t);
    writeSome(dir, 600);
    const last = join(dir, lastName);
    truncateSync(last, at);
    assert.throws(
      () => Wal.open(new RealFs(), dir, OPTS),
      (e: unknown) =>
        e instanceof WalCutError &&
        e.file === last &&
        e.sizeBytes === at &&
        e.expectedBytes === expected &&
        /cut short/.test(e.message) &&
        /copy it again whole/.test(e.message) &&
        /replace this member/.test(e.message),
      what,
    );
    // Refused again at the next start: nothing was changed.
    assert.throws(() => Wal.open(new RealFs(), dir, OPTS), WalCutError, what);
    assert.equal(statSync(last).size, at, what);
  }
  // A segment that is not the last, cut at a record boundary.
  const dir = tempDir(t);
  writeSome(dir, 600);
  const first = join(dir, segments(dir)[0]!);
  truncateSync(first, scanFrames(readFileSync(first)).frames.at(-1)!.offset);
  assert.throws(() => Wal.open(new RealFs(), dir, OPTS), WalCutError);
});

test('a flipped byte in the middle of a real segment refuses to start, naming file and offset', (t) => {
  const dir = tempDir(t);
  writeSome(dir, 600);
  const first = join(dir, segments(dir)[0]!);
  const bytes = readFileSync(first);
  bytes[5000] = bytes[5000]! ^ 0x04;
  writeFileSync(first, bytes);
  assert.throws(
    () => Wal.open(new RealFs(), dir, OPTS),
    (e: unknown) =>
      e instanceof StorageCorruptError &&
      e.file === first &&
      e.offset <= 5000 &&
      e.offset > 4800 &&
      /replace this member/.test(e.message),
  );
  // Flipped inside the last segment but not in its last record: still refused.
  const dir2 = tempDir(t);
  writeSome(dir2, 600);
  const last = join(dir2, segments(dir2).at(-1)!);
  const b2 = readFileSync(last);
  b2[100] = b2[100]! ^ 0x80;
  writeFileSync(last, b2);
  assert.throws(() => Wal.open(new RealFs(), dir2, OPTS), StorageCorruptError);
});
