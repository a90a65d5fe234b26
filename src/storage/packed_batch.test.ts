// The packed hand-off to the WAL worker gives back exactly the requests it was given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from '../raft/types.ts';
import { packable, packBatch, unpackBatch, type PlainRequest } from './packed_batch.ts';

/** Entries as the codec makes them: views of one shared buffer, not starting at its offset 0. */
function entriesOver(shared: Uint8Array, specs: readonly [number, number, 0 | 1 | 2, number][]): Entry[] {
  let at = 3;
  return specs.map(([index, term, type, bytes]) => {
    const data = shared.subarray(at, at + bytes);
    at += bytes + 1;
    return { index, term, type, data };
  });
}

test('packBatch then unpackBatch gives back the requests: entries, hard states, sync flags', () => {
  const shared = new Uint8Array(2048).map((_, i) => (i * 37) & 0xff);
  const reqs: PlainRequest[] = [
    {
      entries: entriesOver(shared, [
        [1, 1, 0, 117],
        [2, 1, 1, 0],
        [3, 2, 2, 300],
      ]),
      hardState: { term: 2, votedFor: 'n1', commit: 1 },
      sync: true,
    },
    { entries: [], hardState: null },
    { entries: [], hardState: { term: 3, votedFor: null, commit: 3 }, sync: false },
    {
      entries: entriesOver(shared, [
        [2 ** 32 + 5, 2 ** 31 + 1, 0, 1],
        [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 0, 64],
      ]),
      hardState: { term: Number.MAX_SAFE_INTEGER, votedFor: 'nœud-é🙂', commit: 2 ** 40 },
    },
  ];
  const packed = packBatch(reqs);
  const back = unpackBatch(packed);
  // sync: true is the default, written back as absent.
  const expected = reqs.map((r) => (r.sync === true ? { entries: r.entries, hardState: r.hardState } : r));
  assert.deepEqual(
    back.map((r) => ({ ...r, entries: r.entries.map((e) => ({ ...e, data: [...e.data] })) })),
    expected.map((r) => ({ ...r, entries: r.entries.map((e) => ({ ...e, data: [...e.data] })) })),
  );
  // The data are views of the transferred buffer, not copies.
  assert.ok(back[0]!.entries.every((e) => e.data.buffer === packed));
});

test('packBatch of no requests, and of requests whose entries are all empty', () => {
  assert.deepEqual(unpackBatch(packBatch([])), []);
  const reqs: PlainRequest[] = [
    { entries: [{ index: 7, term: 1, type: 0, data: new Uint8Array(0) }], hardState: null },
  ];
  assert.deepEqual(unpackBatch(packBatch(reqs)), reqs);
});

test('packable: snapshot requests keep the cloned path', () => {
  const meta = { index: 5, term: 1, confState: { voters: ['n1'], learners: [], removed: [] } };
  assert.equal(packable({ entries: [], hardState: null }), true);
  assert.equal(packable({ entries: [], hardState: null, snapshot: { meta, data: new Uint8Array(1) } }), false);
  assert.equal(packable({ entries: [], hardState: null, receivedFile: { meta, path: '/x' } }), false);
  assert.equal(packable({ entries: [], hardState: null, savedSnapshot: meta }), false);
});
