// What one TTL grant may hold (ttl-room.ts): the leader refuses a put past --max-ttl-keys or
// --max-ttl-bytes with invalid_argument, counting puts it has proposed and not yet applied, so that
// concurrent puts cannot pass the limits together. Before session 12 a grant held any number of keys,
// and its end deleted them all in one revision on every member.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startSoloNode, type SoloNode } from './test-node.ts';
import { TtlRoom } from './ttl-room.ts';
import { sleep } from '../testkit/wait.ts';

/** How long a grant may be refused as unavailable while the solo leader starts its TTL countdowns. */
const GRANT_WAIT_MS = 10_000;

describe('limits on what one TTL grant holds', () => {
  let n: SoloNode;
  before(async () => {
    n = await startSoloNode('ttl-room', {
      maxKeyBytes: '16',
      maxValueBytes: '64',
      maxTtlKeys: '3',
      maxTtlBytes: '200',
    });
  });
  after(() => n.stop());

  /** A grant, once the new leader has started its TTL countdowns (until then it answers unavailable). */
  const grant = async (): Promise<string> => {
    const until = performance.now() + GRANT_WAIT_MS;
    for (;;) {
      const g = await n.call('TtlGrant', { ttlMs: 60_000 });
      if (g['code'] === 'unavailable' && performance.now() < until) {
        await sleep(50);
        continue;
      }
      assert.equal(typeof g['id'], 'string', JSON.stringify(g));
      return g['id'] as string;
    }
  };

  test('keys: the put that would attach one more is refused, naming the flag; overwriting an attached key is not', async () => {
    const id = await grant();
    for (const k of ['k/a', 'k/b', 'k/c'])
      assert.ok('index' in (await n.call('Put', { key: k, value: 'v', ttlId: id })));
    const refused = await n.call('Put', { key: 'k/d', value: 'v', ttlId: id });
    assert.equal(refused['code'], 'invalid_argument');
    assert.match(String(refused['message']), /ttl grant \d+ has 3 keys attached; the limit is 3 \(--max-ttl-keys\)/);
    assert.ok('index' in (await n.call('Put', { key: 'k/a', value: 'w', ttlId: id })));
    assert.equal((await n.call('Get', { key: 'k/d' }))['found'], false);
    // Detaching one makes room.
    await n.call('Put', { key: 'k/a', value: 'plain' });
    assert.ok('index' in (await n.call('Put', { key: 'k/d', value: 'v', ttlId: id })));
  });

  test('bytes: keys and values in UTF-8 past --max-ttl-bytes are refused', async () => {
    const id = await grant();
    const v = 'é'.repeat(30); // 60 bytes
    assert.ok('index' in (await n.call('Put', { key: 'b/1', value: v, ttlId: id }))); // 63
    assert.ok('index' in (await n.call('Put', { key: 'b/2', value: v, ttlId: id }))); // 126
    assert.ok('index' in (await n.call('Put', { key: 'b/3', value: v, ttlId: id }))); // 189
    // Overwriting b/3 counts its new value, not both: 189 - 63 + 67 = 193.
    const again = await n.call('Put', { key: 'b/3', value: v + 'xxxx', ttlId: id });
    assert.ok('index' in again, JSON.stringify(again));
    const id2 = await grant();
    await n.call('Put', { key: 'c/1', value: 'x'.repeat(64), ttlId: id2 }); // 67
    await n.call('Put', { key: 'c/2', value: 'x'.repeat(64), ttlId: id2 }); // 134
    const past = await n.call('Put', { key: 'c/3', value: 'x'.repeat(64), ttlId: id2 }); // 201
    assert.equal(past['code'], 'invalid_argument');
    assert.match(String(past['message']), /would hold 201 bytes .* the limit is 200 \(--max-ttl-bytes\)/);
  });

  test('concurrent puts to one grant cannot pass the limit together', async () => {
    const id = await grant();
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => n.call('Put', { key: `p/${i}`, value: 'v', ttlId: id })),
    );
    assert.equal(answers.filter((a) => 'index' in a).length, 3);
    assert.equal(answers.filter((a) => a['code'] === 'invalid_argument').length, 9);
    assert.equal(n.running.node.ttlKeys(Number(id)).length, 3);
  });
});

test('TtlRoom: a released reservation frees its room; an unknown grant is let through', () => {
  const attached = new Map<number, { keys: number; bytes: number }>([[1, { keys: 0, bytes: 0 }]]);
  const room = new TtlRoom(
    { maxKeys: 2, maxBytes: 1000 },
    { ttlAttached: (id) => attached.get(id), ttlOfKey: () => undefined, get: () => undefined },
  );
  const r1 = room.reserve(1, 'a', 'x');
  room.reserve(1, 'b', 'x');
  assert.throws(() => room.reserve(1, 'c', 'x'), /the limit is 2 \(--max-ttl-keys\)/);
  r1();
  r1(); // twice is once
  room.reserve(1, 'c', 'x');
  assert.throws(() => room.reserve(1, 'd', 'x'), /--max-ttl-keys/);
  room.reserve(7, 'e', 'x'.repeat(5000))();
});
