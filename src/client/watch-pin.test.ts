// A watch without startRevision starts after the revision its first member had applied when it
// began (its Status), not after whatever revision the member that first serves a stream is at: a
// first stream that fails before its first message, resumed on another member, misses nothing
// (session 13; it used to start at the next member's current revision).
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { fakeMember, type FakeHandler } from '../testkit/fake-member.ts';
import { LeasekvClient } from './index.ts';

function status(res: ServerResponse, revision: number): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id: 'm', revision: String(revision) }));
}

test('without startRevision: pinned at the first Status; a resumed stream asks for the revision after it', async () => {
  const asked: string[] = [];
  /** Status says `revision`; a watch stream is recorded, then served by `stream`. */
  const handler =
    (name: string, revision: number, stream: (res: ServerResponse) => void): FakeHandler =>
    (req, res) => {
      asked.push(`${name} ${req.url ?? ''}`);
      if (req.url?.endsWith('/Status') === true) return status(res, revision);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      stream(res);
    };
  // a: its first stream breaks before any message (the member dies); b is at revision 50 by then.
  const a = await fakeMember(
    handler('a', 41, (res) => res.destroy()),
    { early: true },
  );
  const b = await fakeMember(
    handler('b', 50, (res) => {
      const kv = { key: 'k', value: 'v', createRevision: '42', modRevision: '42', version: '1' };
      res.write(
        `id: 42\nevent: events\ndata: ${JSON.stringify({ revision: '42', events: [{ type: 'PUT', kv }], memberId: 'b' })}\n\n`,
      );
    }),
    { early: true },
  );
  const kv = new LeasekvClient({ endpoints: [a.ep, b.ep] });
  const ac = new AbortController();
  try {
    const got: number[] = [];
    for await (const r of kv.watch('k', { signal: ac.signal })) {
      got.push(r.revision);
      break;
    }
    assert.deepEqual(got, [42], 'the change made after the watch began (revision 42) was seen');
    const streams = asked.filter((x) => x.includes('/v1/watch'));
    assert.ok(streams.length >= 2, asked.join('\n'));
    for (const s of streams) assert.match(s, /[?&]rev=42(&|$)/, s);
    assert.deepEqual(
      asked.filter((x) => x.endsWith('/Status')),
      ['a /leasekv.v1.KV/Status'],
      'asked once, before any stream',
    );
  } finally {
    ac.abort();
    await kv.close();
    await a.close();
    await b.close();
  }
});
