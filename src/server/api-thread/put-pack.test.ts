// Plain Puts as bytes between the threads (put-pack.ts): what the API thread packs is what the node's
// side proposes, byte for byte as encodeCommand would encode it; the node's side answers a turn's
// Puts in one message until the turn is sent, and falls back to putQuick for a backend without
// putCommand.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeCommand, encodeCommand } from '../../kv/command.ts';
import { DeadlineExceededError, type KvBackend, type PutRequest, type PutResult } from '../backend.ts';
import { NodeSide } from './node-side.ts';
import { PutPacker, readPutPack } from './put-pack.ts';
import type { PutPack, ToApi } from './protocol.ts';

/** Packs `puts` as one turn of the API thread and returns the sealed message. */
function packed(puts: readonly (readonly [number, number, string, string])[]): PutPack {
  const packer = new PutPacker();
  let msg: PutPack | null = null;
  for (const [id, timeoutMs, key, value] of puts) {
    const opened = packer.add(id, timeoutMs, key, value);
    if (opened !== null) {
      assert.equal(msg, null, 'one message per turn');
      msg = opened;
    }
  }
  assert.notEqual(msg, null);
  packer.seal();
  return msg as PutPack;
}

test('a pack holds each Put as id, timeout and the command encodeCommand would write', () => {
  const big = 'x'.repeat(70_000); // grows the writer past its start, and past what it keeps
  const puts = [
    [1, 100, 'a', 'v'],
    [300, 2.5, 'ключ', big],
    [2 ** 40, 10_000, '', ''],
  ] as const;
  const seen: [number, number, Uint8Array][] = [];
  readPutPack(packed(puts).b, (id, timeoutMs, cmd) => seen.push([id, timeoutMs, new Uint8Array(cmd)]));
  assert.deepEqual(
    seen,
    puts.map(([id, t, key, value]) => [id, t, new Uint8Array(encodeCommand({ op: 'put', key, value }))]),
  );
  // A seal with nothing open sends nothing and changes nothing; the next turn starts empty.
  const packer = new PutPacker();
  packer.seal();
  const m = packer.add(5, 1, 'k', 'v') as PutPack;
  packer.seal();
  const again: number[] = [];
  readPutPack(m.b, (id) => again.push(id));
  assert.deepEqual(again, [5]);
  assert.throws(() => readPutPack(m.b.subarray(0, m.b.length - 1), () => {}), /malformed put pack/);
});

test("the node's side proposes the bytes and answers a turn's Puts in one message", () => {
  const posted: ToApi[] = [];
  const proposed: unknown[] = [];
  const pending: ((err: unknown, r: PutResult | null) => void)[] = [];
  const backend = {
    putCommand: (cmd: Uint8Array, timeoutMs: number, done: (err: unknown, r: PutResult | null) => void) => {
      proposed.push([decodeCommand(cmd), timeoutMs]);
      pending.push(done);
    },
  } as unknown as KvBackend;
  const side = new NodeSide(backend, undefined, (m) => posted.push(m));
  assert.equal(
    side.handle(
      packed([
        [1, 50, 'a', '1'],
        [2, 60, 'b', '2'],
        [3, 70, 'c', '3'],
      ]),
    ),
    true,
  );
  assert.deepEqual(proposed, [
    [{ op: 'put', key: 'a', value: '1' }, 50],
    [{ op: 'put', key: 'b', value: '2' }, 60],
    [{ op: 'put', key: 'c', value: '3' }, 70],
  ]);
  pending[1]!(null, { index: 11, revision: 6 });
  pending[2]!(new DeadlineExceededError(70), null);
  pending[0]!(null, { index: 10, revision: 5 });
  // The turn is sent: a later answer opens a new message.
  side.sealAnswers();
  side.handle(packed([[4, 50, 'd', '4']]));
  pending[3]!(null, { index: 12, revision: 7 });
  assert.deepEqual(posted, [
    { t: 'putok', a: [2, 11, 6, 1, 10, 5] },
    {
      t: 'err',
      id: 3,
      e: { name: 'DeadlineExceededError', message: 'deadline of 70 ms exceeded', fields: { deadlineMs: 70 } },
    },
    { t: 'putok', a: [4, 12, 7] },
  ]);
});

test("a backend without putCommand gets the pack's Puts through putQuick", async () => {
  const posted: ToApi[] = [];
  const asked: [PutRequest, number][] = [];
  const backend = {
    putQuick: (req: PutRequest, timeoutMs: number) => {
      asked.push([req, timeoutMs]);
      return Promise.resolve({ index: asked.length, revision: asked.length });
    },
  } as unknown as KvBackend;
  const side = new NodeSide(backend, undefined, (m) => posted.push(m));
  side.handle(
    packed([
      [7, 30, 'x', 'é'],
      [8, 40, 'y', ''],
    ]),
  );
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(asked, [
    [{ key: 'x', value: 'é' }, 30],
    [{ key: 'y', value: '' }, 40],
  ]);
  assert.deepEqual(posted, [{ t: 'putok', a: [7, 1, 1, 8, 2, 2] }]);
});
