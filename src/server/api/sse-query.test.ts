import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConnectError } from '@connectrpc/connect';
import { flagFromQuery, revisionFromText, strictQuery } from './sse-query.ts';

const KNOWN = ['key', 'prefix', 'rev'] as const;

function refused(f: () => unknown, re: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof ConnectError && re.test(e.rawMessage));
}

describe('the watch query string, read strictly', () => {
  test('percent-encoded UTF-8 and "+" decode as URLSearchParams would', () => {
    const q = strictQuery('?key=caf%C3%A9+au%20lait%2F%F0%9F%98%80&prefix=true', KNOWN);
    assert.equal(q.get('key'), 'café au lait/😀');
    assert.equal(q.get('prefix'), 'true');
    assert.equal(strictQuery('', KNOWN).size, 0);
    assert.equal(strictQuery('?key=', KNOWN).get('key'), '');
  });

  test('bytes that are not UTF-8 and malformed escapes are refused, not replaced with U+FFFD', () => {
    // URLSearchParams gives "\uFFFD" for all three: a watch on a key nobody meant.
    assert.equal(new URLSearchParams('key=%FF').get('key'), '\uFFFD');
    refused(() => strictQuery('key=%FF', KNOWN), /parameter 'key' is not valid percent-encoded UTF-8/);
    refused(() => strictQuery('key=%ED%A0%80', KNOWN), /not valid percent-encoded UTF-8/); // a surrogate
    refused(() => strictQuery('key=%E', KNOWN), /not valid percent-encoded UTF-8/);
  });

  test('unknown and repeated parameters are refused', () => {
    refused(() => strictQuery('key=a&revision=1', KNOWN), /unknown query parameter 'revision' \(key, prefix, rev\)/);
    refused(() => strictQuery('key=a&key=b', KNOWN), /'key' is given twice/);
  });

  test('a revision is decimal digits up to 2^53 - 1', () => {
    assert.equal(revisionFromText('0', 'rev'), 0);
    assert.equal(revisionFromText('42', 'rev'), 42);
    assert.equal(revisionFromText('9007199254740991', 'rev'), Number.MAX_SAFE_INTEGER);
    // Number() reads all of these as revisions (16, 1000, 1, 0, 1, 0.5 → refused later, ...).
    for (const bad of ['0x10', '1e3', ' 1', '', '+1', '-1', '01', '1.5', '9007199254740992', 'Infinity'])
      refused(() => revisionFromText(bad, 'rev'), /^rev ".*" is not a revision/);
  });

  test('a flag is true/false (1/0, yes/no); absent is false; anything else is refused', () => {
    const q = strictQuery('a=true&b=0&c=yes&d=tru&e', ['a', 'b', 'c', 'd', 'e', 'f']);
    assert.equal(flagFromQuery(q, 'a'), true);
    assert.equal(flagFromQuery(q, 'b'), false);
    assert.equal(flagFromQuery(q, 'c'), true);
    assert.equal(flagFromQuery(q, 'f'), false);
    refused(() => flagFromQuery(q, 'd'), /'d' is "tru": say true or false/);
    refused(() => flagFromQuery(q, 'e'), /'e' is "": say true or false/);
  });
});
