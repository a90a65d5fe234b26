// NodeLink's requests over a real MessagePort, with this test as the node's side: every request
// kind is answered by id, an aborted call is forgotten here and cancelled there, and a closed link
// refuses new requests and answers the waiting ones unavailable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { NodeLink } from './remote.ts';
import type { ToApi, ToNode } from './protocol.ts';
import { UnavailableError, type GetRequest, type PutRequest } from '../backend.ts';

/** A bound that only catches a hang (a request never answered): the node side here answers at once. */
const WAIT_MS = 10_000;
const GET: GetRequest = { key: 'k', consistency: 'linearizable' };
const PUT: PutRequest = { key: 'k', value: 'v' };

/** A link whose node side records what it is sent; `answer` replies as the node's thread would. */
type Linked = ReturnType<typeof linked>;

/** A test with its own link (closed after it), bounded so that a request never answered fails it. */
function linkTest(name: string, body: (n: Linked) => Promise<void>): void {
  test(name, { timeout: WAIT_MS }, async () => {
    const n = linked();
    try {
      await body(n);
    } finally {
      n.close();
    }
  });
}

function linked(): { link: NodeLink; sent: () => Promise<ToNode>; answer: (m: ToApi) => void; close: () => void } {
  const { port1, port2 } = new MessageChannel();
  const link = new NodeLink((m) => port1.postMessage(m));
  const inbox: ToNode[] = [];
  const waiting: ((m: ToNode) => void)[] = [];
  (port2 as MessagePort).on('message', (m: ToNode) => {
    const w = waiting.shift();
    if (w === undefined) inbox.push(m);
    else w(m);
  });
  return {
    link,
    sent: () => {
      const m = inbox.shift();
      return m !== undefined ? Promise.resolve(m) : new Promise((resolve) => waiting.push(resolve));
    },
    answer: (m) => assert.equal(link.handle(m), true),
    close: () => {
      port1.close();
      port2.close();
    },
  };
}

linkTest('call, get and put each post their request under a new id and resolve with the answer to it', async (n) => {
  const call = n.link.call<string>('status', []);
  const get = n.link.get(GET, 100);
  const put = n.link.put(PUT, 200);
  const msgs = [await n.sent(), await n.sent(), await n.sent()];
  assert.deepEqual(
    msgs.map((m) => m.t),
    ['call', 'get', 'put'],
  );
  const ids = msgs.map((m) => (m as { id: number }).id);
  assert.equal(new Set(ids).size, 3, 'distinct ids');
  assert.deepEqual(msgs[2], { t: 'put', id: ids[2], req: { key: 'k', value: 'v' }, timeoutMs: 200 });
  // Answered out of order, each by its id.
  n.answer({ t: 'ok', id: ids[2]!, v: 'put-result' });
  n.answer({ t: 'err', id: ids[1]!, e: { name: 'UnavailableError', message: 'no', fields: {} } });
  n.answer({ t: 'ok', id: ids[0]!, v: 'status-result' });
  assert.equal(await put, 'put-result');
  await assert.rejects(get, (e: Error) => e instanceof UnavailableError && e.message === 'no');
  assert.equal(await call, 'status-result');
});

linkTest(
  'an aborted call is rejected with the reason and cancelled on the node; a late answer is ignored',
  async (n) => {
    const ctrl = new AbortController();
    const p = n.link.call('range', [{}], ctrl.signal);
    const m = (await n.sent()) as { t: string; id: number };
    assert.equal(m.t, 'call');
    ctrl.abort(new Error('client went away'));
    await assert.rejects(p, /client went away/);
    assert.deepEqual(await n.sent(), { t: 'cancel', id: m.id });
    n.answer({ t: 'ok', id: m.id, v: 'late' });
    // A call whose signal is already aborted is not sent at all.
    await assert.rejects(n.link.call('range', [{}], AbortSignal.abort(new Error('already'))), /already/);
    // An answered call leaves no listener behind: aborting afterwards cancels nothing.
    const ctrl2 = new AbortController();
    const q = n.link.call('range', [{}], ctrl2.signal);
    const m2 = (await n.sent()) as { t: string; id: number };
    n.answer({ t: 'ok', id: m2.id, v: 'done' });
    assert.equal(await q, 'done');
    ctrl2.abort();
    const next = n.link.put(PUT, 1);
    assert.equal((await n.sent()).t, 'put', 'no cancel was sent for the answered call');
    n.link.close();
    await assert.rejects(next, UnavailableError);
  },
);

linkTest('close answers every waiting request unavailable and refuses new ones', async (n) => {
  const waiting = [
    n.link.call('status', []),
    n.link.call('range', [{}], new AbortController().signal),
    n.link.get(GET, 100),
    n.link.put(PUT, 100),
  ];
  n.link.close();
  for (const p of waiting) await assert.rejects(p, /node is stopping/);
  await assert.rejects(n.link.put(PUT, 100), UnavailableError);
  await assert.rejects(n.link.get(GET, 100), UnavailableError);
  await assert.rejects(n.link.call('status', []), UnavailableError);
});

test('a watch batch is acknowledged when the reader asks for the next one, not when it takes it', async () => {
  // Session 9 audit: acknowledged on taking, a batch being written to a client that does not read
  // was outside the node's window (node-side.ts), so each such watcher held one more copy here.
  const sent: ToNode[] = [];
  const link = new NodeLink((m) => sent.push(m));
  try {
    const w = link.watch({ key: 'k', prefix: false, startRevision: 0, prevKv: false });
    const id = (sent[0] as Extract<ToNode, { t: 'watch' }>).id;
    for (const revision of [1, 2]) link.handle({ t: 'wbatch', id, b: { revision, events: [] } });
    const it = w[Symbol.asyncIterator]();
    const acks = (): number => sent.filter((m) => m.t === 'wnext').length;
    assert.equal((await it.next()).value?.revision, 1);
    assert.equal(acks(), 0, 'taken, not yet written out: not acknowledged');
    assert.equal((await it.next()).value?.revision, 2);
    assert.equal(acks(), 1);
    w.cancel();
    assert.equal((await it.next()).done, true);
    assert.equal(acks(), 1, 'a cancelled watch acknowledges nothing more');
  } finally {
    link.close();
  }
});
