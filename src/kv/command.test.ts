import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CommandDecodeError, decodeCommand, encodeCommand, writePlainPut, type Command } from './command.ts';
import { ByteReader, ByteWriter } from '../util/bytes.ts';

const str = (minLength = 0) => fc.string({ unit: 'binary', minLength, maxLength: 40 });
const session = fc.option(fc.record({ clientId: str(1), seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }) }), {
  nil: undefined,
});
export const arbCommand: fc.Arbitrary<Command> = fc
  .oneof(
    fc.record({ op: fc.constant('put' as const), key: str(), value: str(), session }),
    fc.record({ op: fc.constant('delete' as const), key: str(), session }),
    fc.record({
      op: fc.constant('cas' as const),
      key: str(),
      expected: fc.option(str(), { nil: null }),
      value: str(),
      session,
    }),
    fc.record({
      op: fc.constant('txn' as const),
      compares: fc.array(
        fc
          .oneof(
            fc.record({
              key: str(),
              target: fc.constant('value' as const),
              result: fc.constantFrom('=' as const, '!=' as const, '<' as const, '>' as const),
              value: str(),
            }),
            fc.record({
              key: str(),
              target: fc.constantFrom('version' as const, 'create' as const, 'mod' as const),
              result: fc.constantFrom('=' as const, '>' as const),
              number: fc.nat(),
            }),
          )
          .map((c) => ({ ...c })),
        { maxLength: 3 },
      ),
      success: fc.array(
        fc
          .oneof(
            fc.record({ op: fc.constant('put' as const), key: str(), value: str() }),
            fc.record({ op: fc.constant('range' as const), prefix: str(), limit: fc.nat() }),
          )
          .map((o) => ({ ...o })),
        { maxLength: 3 },
      ),
      failure: fc.array(
        fc
          .oneof(
            fc.record({ op: fc.constant('delete' as const), key: str() }),
            fc.record({ op: fc.constant('get' as const), key: str() }),
          )
          .map((o) => ({ ...o })),
        { maxLength: 3 },
      ),
      session,
    }),
  )
  .map((c) => {
    // exactOptionalPropertyTypes: drop an undefined session rather than carry the key.
    // (and fast-check records have a null prototype; the decoder builds plain objects).
    const { session: s, ...rest } = c;
    return (s === undefined ? { ...rest } : { ...rest, session: { ...s } }) as Command;
  });

test('encode/decode round-trips every command (property)', () => {
  fc.assert(
    fc.property(arbCommand, (cmd) => {
      assert.deepEqual(decodeCommand(encodeCommand(cmd)), cmd);
    }),
    { numRuns: 500 },
  );
});

test('writePlainPut writes the bytes encodeCommand does, behind their length (property)', () => {
  // Lone surrogates too: both write them as U+FFFD, and the length must count them as written.
  const unit = fc.oneof(fc.constantFrom('\uD800', '\uDC00', 'é', '€'), fc.string({ unit: 'grapheme', maxLength: 1 }));
  const text = fc.string({ unit, maxLength: 300 });
  fc.assert(
    fc.property(fc.array(fc.tuple(text, text), { minLength: 1, maxLength: 5 }), (puts) => {
      // Several in one writer, as the API thread packs them: each read back whole, then the next.
      const w = new ByteWriter(16);
      for (const [key, value] of puts) writePlainPut(w, key, value);
      const r = new ByteReader(w.finish(), (m) => new Error(m));
      for (const [key, value] of puts)
        assert.deepEqual(r.bytesView(), new Uint8Array(encodeCommand({ op: 'put', key, value })));
      r.expectEnd('puts');
    }),
    { numRuns: 300 },
  );
});

test('encoding is compact', () => {
  const bytes = encodeCommand({ op: 'put', key: 'k', value: 'v', session: { clientId: 'c', seq: 5 } });
  assert.equal(bytes.length, 3 + 2 + 1 + 2 + 2);
});

test('CAS distinguishes expected null (must be absent) from expected empty string', () => {
  const a = decodeCommand(encodeCommand({ op: 'cas', key: 'k', expected: null, value: 'v' }));
  const b = decodeCommand(encodeCommand({ op: 'cas', key: 'k', expected: '', value: 'v' }));
  assert.equal(a.op === 'cas' && a.expected, null);
  assert.equal(b.op === 'cas' && b.expected, '');
});

test('malformed bytes throw CommandDecodeError and nothing else (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        decodeCommand(bytes);
      } catch (e) {
        assert.ok(e instanceof CommandDecodeError, `unexpected ${String(e)}`);
      }
    }),
    { numRuns: 2000 },
  );
});

test('specific malformed inputs are rejected', () => {
  const good = encodeCommand({ op: 'put', key: 'key', value: 'value', session: { clientId: 'c', seq: 1 } });
  const cases: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['bad version', Uint8Array.from([9, 1, 0, 0, 0])],
    ['bad op', Uint8Array.from([1, 9, 0, 0])],
    ['unknown flag', Uint8Array.from([1, 1, 0x80, 0, 0])],
    ['truncated', good.subarray(0, good.length - 1)],
    ['trailing', Uint8Array.from([...good, 0])],
    ['invalid utf-8', Uint8Array.from([1, 2, 0, 1, 0xff])],
    ['seq 0', Uint8Array.from([1, 2, 1, 1, 0x63, 0, 0])],
    ['huge length', Uint8Array.from([1, 2, 0, 0xff, 0xff, 0xff, 0xff, 0x0f])],
    ['overlong varint', Uint8Array.from([1, 2, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01])],
  ];
  for (const [name, bytes] of cases) {
    assert.throws(() => decodeCommand(bytes), CommandDecodeError, name);
  }
});
