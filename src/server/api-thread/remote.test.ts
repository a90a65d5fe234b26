// NodeLink's requests over a real MessagePort, with this test as the node's side: every request
// kind is answered by id, an aborted call is forgotten here and cancelled there, and a closed link
// refuses new requests and answers the waiting ones unavailable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { NodeLink } from './remote.ts';
import type { ToApi, ToNode } from './protocol.ts';
import { UnavailableError, type GetRequest, type PutRequest } from '../backend.ts';
import { TurnBatch } from './turn-batch.ts';
import { readPutPack } from './put-pack.ts';
import { decodeCommand } from '../../kv/command.ts';

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
  // As the API thread sends: once per turn, each send after seal() (worker.ts).
  const out: TurnBatch<ToNode> = new TurnBatch<ToNode>(
    (m) => port1.postMessage(m),
    'immediate',
    () => link.seal(),
  );
  const link = new NodeLink((m) => out.push(m));
  const inbox: ToNode[] = [];
  const waiting: ((m: ToNode) => void)[] = [];
  const receive = (m: ToNode): void => {
    const w = waiting.shift();
    if (w === undefined) inbox.push(m);
    else w(m);
  };
  (port2 as MessagePort).on('message', (m: ToNode) => {
    if (m.t === 'batch') m.ms.forEach(receive);
    else receive(m);
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
    ['call', 'get', 'puts'],
  );
  const ids = msgs.map((m) => (m as { id?: number }).id);
  const packed = unpack(msgs[2]!);
  assert.equal(packed.length, 1);
  ids[2] = packed[0]!.id;
  assert.equal(new Set(ids).size, 3, 'distinct ids');
  assert.deepEqual(packed[0], { id: ids[2], timeoutMs: 200, cmd: { op: 'put', key: 'k', value: 'v' } });
  // Answered out of order, each by its id.
  n.answer({ t: 'putok', a: [ids[2]!, 7, 5] });
  n.answer({ t: 'err', id: ids[1]!, e: { name: 'UnavailableError', message: 'no', fields: {} } });
  n.answer({ t: 'ok', id: ids[0]!, v: 'status-result' });
  assert.deepEqual(await put, { index: 7, revision: 5 });
  await assert.rejects(get, (e: Error) => e instanceof UnavailableError && e.message === 'no');
  assert.equal(await call, 'status-result');
});

/** The Puts a 'puts' message carries, their commands decoded. */
function unpack(m: ToNode): { id: number; timeoutMs: number; cmd: unknown }[] {
  assert.equal(m.t, 'puts');
  const out: { id: number; timeoutMs: number; cmd: unknown }[] = [];
  if (m.t === 'puts') readPutPack(m.b, (id, timeoutMs, cmd) => out.push({ id, timeoutMs, cmd: decodeCommand(cmd) }));
  return out;
}

linkTest('plain Puts of one turn go as one pack, in order; a TTL or session Put as an object', async (n) => {
  const value = 'é'.repeat(300);
  const puts = [
    n.link.put({ key: 'a', value: 'x' }, 100),
    n.link.put({ key: 'b', value: 'y', ttl: 9 }, 100),
    n.link.put({ key: 'c', value }, 1.5),
    n.link.put({ key: 'd', value: 'z', session: { clientId: 'c1', seq: 1 } }, 100),
  ];
  const msgs = [await n.sent(), await n.sent(), await n.sent()];
  // The pack goes where its first Put was queued.
  assert.deepEqual(
    msgs.map((m) => m.t),
    ['puts', 'put', 'put'],
  );
  const packed = unpack(msgs[0]!);
  assert.deepEqual(
    packed.map((p) => [p.timeoutMs, p.cmd]),
    [
      [100, { op: 'put', key: 'a', value: 'x' }],
      [1.5, { op: 'put', key: 'c', value }],
    ],
  );
  assert.deepEqual((msgs[1] as { req: unknown }).req, { key: 'b', value: 'y', ttl: 9 });
  // One answer message for both, in any order; an id no request waits for is ignored.
  n.answer({ t: 'putok', a: [packed[1]!.id, 3, 2, 999_999, 1, 1, packed[0]!.id, 4, 3] });
  assert.deepEqual(await puts[0], { index: 4, revision: 3 });
  assert.deepEqual(await puts[2], { index: 3, revision: 2 });
  // The next turn's Puts go in a new pack.
  const later = n.link.put({ key: 'e', value: 'w' }, 100);
  const again = unpack(await n.sent());
  assert.deepEqual(
    again.map((p) => p.cmd),
    [{ op: 'put', key: 'e', value: 'w' }],
  );
  n.answer({ t: 'putok', a: [again[0]!.id, 9, 8] });
  assert.deepEqual(await later, { index: 9, revision: 8 });
  n.link.close();
  await Promise.allSettled(puts);
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
    assert.equal((await n.sent()).t, 'puts', 'no cancel was sent for the answered call');
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
