// The client library joins a revision's pieces (session 11) and, when a stream breaks in the middle
// of a revision, drops the pieces it held and resumes from that revision: the caller sees each
// revision once and whole. Against a scripted member serving server-sent events.
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { test } from 'node:test';
import { LeasekvClient } from './index.ts';

const ev = (key: string, rev: number) => ({
  type: 'PUT',
  kv: { key, value: `v-${key}`, createRevision: String(rev), modRevision: String(rev), version: '1' },
});
function send(res: ServerResponse, rev: number, keys: string[], fragment: boolean): void {
  const id = fragment ? '' : `id: ${rev}\n`;
  const body = { revision: String(rev), events: keys.map((k) => ev(k, rev)), memberId: 'm', fragment };
  res.write(`${id}event: ${keys.length === 0 ? 'progress' : 'events'}\ndata: ${JSON.stringify(body)}\n\n`);
}

test('pieces are joined; a stream lost mid-revision resumes at that revision with nothing twice', async () => {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    asked.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (asked.length === 1) {
      // Revision 5 whole, then the first piece of 6, then the member goes away.
      send(res, 5, ['a'], false);
      send(res, 6, ['b', 'c'], true);
      setTimeout(() => res.destroy(), 50);
    } else if (asked.length === 2) {
      // A broken member: a piece of 8 while 6 is incomplete (the stream is given up).
      send(res, 6, ['b'], true);
      send(res, 8, ['x'], false);
    } else {
      send(res, 6, ['b', 'c'], true);
      send(res, 6, ['d'], true);
      send(res, 6, ['e'], false);
      send(res, 7, ['f'], false);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const kv = new LeasekvClient({ endpoints: [`127.0.0.1:${port}`] });
  const ctrl = new AbortController();
  try {
    const got: [number, string[]][] = [];
    for await (const r of kv.watch('', { prefix: true, startRevision: 5, signal: ctrl.signal })) {
      got.push([r.revision, r.events.map((e) => e.kv.key)]);
      if (r.revision === 7) break;
    }
    assert.deepEqual(got, [
      [5, ['a']],
      [6, ['b', 'c', 'd', 'e']],
      [7, ['f']],
    ]);
    assert.equal(asked.length, 3);
    assert.ok(asked.every((u) => u.includes('fragment=true')));
    assert.match(asked[1]!, /[?&]rev=6(&|$)/, 'resumed at the incomplete revision');
    assert.match(asked[2]!, /[?&]rev=6(&|$)/);
  } finally {
    ctrl.abort();
    await kv.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
