// A data dir whose log was emptied or deleted while its identity record or snapshot stayed (an
// operator's `> 0000000000000000.wal`, a restore of some files only, a half-lost disk) refuses to
// start: started empty, the member would have forgotten its term and vote (it could vote twice in
// one term) and the entries it acknowledged. A crash never leaves that state: Wal.open makes the
// first segment's header durable before a snapshot or the identity can exist (session 9 audit).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StorageCorruptError } from './errors.ts';
import { FaultyFs } from './faulty_fs.ts';
import { IDENTITY_FILE } from './identity.ts';
import { recoverDir } from './recovery.ts';
import { SNAPSHOT_FILE } from './snapshot_file.ts';
import { ent } from './test-util.ts';
import { Wal } from './wal.ts';

const DIR = '/data/n1';
const SEG0 = `${DIR}/0000000000000000.wal`;

/** A member's folder: entries, a vote, optionally a snapshot, and an identity file beside them. */
function member(opts: { snapshot: boolean; identity: boolean }): FaultyFs {
  const fs = new FaultyFs({ seed: 11 });
  const { wal } = Wal.open(fs, DIR);
  if (opts.identity) writeDurably(fs, `${DIR}/${IDENTITY_FILE}`, 'leasekv-identity 1 00000000\n{}');
  wal.append(
    Array.from({ length: 20 }, (_, i) => ent(i + 1, 3)),
    { term: 3, votedFor: 'n2', commit: 20 },
  );
  if (opts.snapshot) {
    wal.saveSnapshot(
      { index: 10, term: 3, confState: { voters: ['n1'], learners: [], removed: [] } },
      new Uint8Array(8),
    );
  }
  wal.sync();
  wal.close();
  return fs;
}

function writeDurably(fs: FaultyFs, path: string, text: string): void {
  const fd = fs.open(path, { create: true });
  fs.append(fd, new TextEncoder().encode(text));
  fs.fsync(fd);
  fs.close(fd);
  fs.fsyncDir(DIR);
}

const lost = (e: unknown): boolean =>
  e instanceof StorageCorruptError && /the log is lost/.test(e.message) && /replace this member/.test(e.message);

for (const [name, damage] of [
  ['emptied', (fs: FaultyFs) => fs.truncate(SEG0, 0)],
  ['cut inside its first record', (fs: FaultyFs) => fs.truncate(SEG0, 5)],
  ['deleted', (fs: FaultyFs) => fs.unlink(SEG0)],
] as const) {
  test(`a log ${name} beside an identity record is refused, and nothing in the folder is changed`, () => {
    const fs = member({ snapshot: false, identity: true });
    damage(fs);
    const before = fs.list(DIR).map((f) => [f, fs.size(`${DIR}/${f}`)]);
    assert.throws(() => Wal.open(fs, DIR), lost);
    assert.throws(() => recoverDir(fs, DIR), lost); // `leasekv wal inspect` says so too
    // Refused before Wal.open restarts the segment: the next start is refused again.
    assert.deepEqual(
      fs.list(DIR).map((f) => [f, fs.size(`${DIR}/${f}`)]),
      before,
    );
    assert.throws(() => Wal.open(fs, DIR), lost);
  });
}

test('a log emptied beside a snapshot is refused (no identity record: a folder from before them)', () => {
  const fs = member({ snapshot: true, identity: false });
  assert.ok(fs.exists(`${DIR}/${SNAPSHOT_FILE}`));
  fs.truncate(SEG0, 0);
  assert.throws(() => Wal.open(fs, DIR), lost);
});

test('not refused: a folder that crashed before its first header was durable, or that holds only the header', () => {
  const empty = new FaultyFs({ seed: 12 });
  empty.mkdirp(DIR);
  const fd = empty.open(SEG0, { create: true }); // created, nothing durable yet
  empty.close(fd);
  empty.fsyncDir(DIR);
  assert.equal(Wal.open(empty, DIR).state.entries.length, 0);

  // A first start that stopped right after recording its identity (a port in use, say): the header
  // is durable, nothing else; it starts again as the new member it was.
  const fresh = new FaultyFs({ seed: 13 });
  Wal.open(fresh, DIR).wal.close();
  writeDurably(fresh, `${DIR}/${IDENTITY_FILE}`, 'x');
  const again = Wal.open(fresh, DIR);
  assert.deepEqual(again.state.hardState, { term: 0, votedFor: null, commit: 0 });

  // The damage itself is what is refused: the same member, intact, reopens with its vote.
  assert.deepEqual(Wal.open(member({ snapshot: true, identity: true }), DIR).state.hardState, {
    term: 3,
    votedFor: 'n2',
    commit: 20,
  });
});
