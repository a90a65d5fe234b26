// scanPages against a stand-in server with an answer cap of 3 keys: a page refused as too large is
// asked again with the keys that fitted, every page after the first is read at its revision and
// starts after the last key, and `limit` stops the scan with `more`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AnswerTooLargeError } from './errors.ts';
import { scanPages } from './scan.ts';
import type { CallOptions, KeyValue, RangeOptions, RangeResult } from './types.ts';

const KEYS = Array.from({ length: 10 }, (_, i) => `k${i}`);

function standIn(capKeys: number): { range: (o: CallOptions & RangeOptions) => Promise<RangeResult>; asked: object[] } {
  const asked: object[] = [];
  let revision = 7;
  return {
    asked,
    range: async (o) => {
      asked.push({ limit: o.limit, startKey: o.startKey, revision: o.revision });
      revision++; // the store moves on; a scan must stay at its first revision
      const from = KEYS.filter(
        (k) => o.startKey === undefined || Buffer.compare(Buffer.from(k), Buffer.from(o.startKey)) >= 0,
      );
      const limit = o.limit ?? 1000;
      if (Math.min(limit, from.length) > capKeys) throw new AnswerTooLargeError('answer too large', capKeys);
      const kvs: KeyValue[] = from
        .slice(0, limit)
        .map((key) => ({ key, value: 'v', createRevision: 1, modRevision: 1, version: 1 }));
      return { kvs, more: from.length > limit, count: 0, index: 1, revision: o.revision ?? revision };
    },
  };
}

describe('scanPages', () => {
  test('pages under the cap: every key once, in order, at the first page revision', async () => {
    const s = standIn(3);
    const keys: string[] = [];
    const revisions = new Set<number>();
    for await (const p of scanPages(s.range, {})) {
      keys.push(...p.kvs.map((kv) => kv.key));
      revisions.add(p.revision);
    }
    assert.deepEqual(keys, KEYS);
    assert.deepEqual([...revisions], [9]);
    assert.deepEqual(s.asked.slice(0, 3), [
      { limit: 1000, startKey: undefined, revision: undefined },
      { limit: 3, startKey: undefined, revision: undefined },
      { limit: 3, startKey: 'k2\u0000', revision: 9 },
    ]);
  });

  test('limit in all: stops there, the last page says more', async () => {
    const pages: RangeResult[] = [];
    for await (const p of scanPages(standIn(3).range, { limit: 5 })) pages.push(p);
    assert.deepEqual(
      pages.flatMap((p) => p.kvs.map((kv) => kv.key)),
      KEYS.slice(0, 5),
    );
    assert.equal(pages.at(-1)?.more, true);
  });

  test('a refusal of a one-key page is the caller’s (nothing smaller to ask)', async () => {
    await assert.rejects(async () => {
      for await (const _ of scanPages(standIn(0).range, {}));
    }, AnswerTooLargeError);
  });
});
