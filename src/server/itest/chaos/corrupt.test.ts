// The chaos run's data-dir damage (corrupt.ts) against the real WAL, in process: each kind must get
// the verdict the fault expects of recovery — a torn tail repaired, every other kind refused — so
// that a `corrupt` fault in a run judges the server by what the storage is documented to do.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mulberry32 } from '../../../storage/faulty_fs.ts';
import { RealFs } from '../../../storage/fs.ts';
import { tempDir, ent } from '../../../storage/test-util.ts';
import { Wal } from '../../../storage/wal.ts';
import { DAMAGES, damage } from './corrupt.ts';

const OPTS = { segmentSizeBytes: 256 * 1024 };

function writeSome(dir: string, n: number, snapshot: boolean): void {
  const { wal } = Wal.open(new RealFs(), dir, OPTS);
  for (let i = 1; i <= n; i++) wal.append([ent(i, 2)], { term: 2, votedFor: 'n1', commit: i - 1 });
  if (snapshot)
    wal.saveSnapshot(
      { index: Math.floor(n / 2), term: 2, confState: { voters: ['n1', 'n2', 'n3'], learners: [], removed: [] } },
      new Uint8Array(3000).fill(7),
    );
  wal.sync();
  wal.close();
}

for (const kind of DAMAGES)
  test(`corrupt ${kind}: recovery does what the chaos fault expects, and undo puts the folder back`, (t) => {
    for (let seed = 1; seed <= 12; seed++) {
      const dir = tempDir(t, `leasekv-chaos-corrupt-${kind}-`);
      writeSome(dir, 40 + seed * 17, seed % 3 !== 0);
      const d = damage(dir, kind, mulberry32(seed));
      let verdict: string;
      try {
        const { wal, repaired } = Wal.open(new RealFs(), dir, OPTS);
        wal.close();
        verdict = repaired === null ? 'clean' : 'serve';
      } catch (e) {
        verdict = 'refuse';
        assert.ok((e as Error).message.includes(d.file.split('/').pop() as string), (e as Error).message);
      }
      assert.equal(verdict, d.expect, `seed ${seed}: ${d.damage} ${d.detail}`);
      if (d.expect === 'refuse') {
        d.undo();
        const { wal, repaired } = Wal.open(new RealFs(), dir, OPTS);
        wal.close();
        assert.equal(repaired, null, `seed ${seed}: undone`);
      }
    }
  });
