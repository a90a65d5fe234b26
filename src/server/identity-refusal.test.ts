import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogLimiter } from '../util/log-limit.ts';
import { StartRefusedError } from './identity.ts';
import { refusalHandler } from './identity-refusal.ts';

function capture(): { lines: object[]; log: { error(o: object, m: string): void } } {
  const lines: object[] = [];
  return { lines, log: { error: (o, m) => void lines.push({ ...o, m }) } };
}

test('a member with committed entries logs a peer refusing it once per reason and minute', () => {
  // A restored cluster's member at an old member's address refused the old cluster's members twice a
  // second; each refusal was an ERROR line for as long as both ran.
  let nowMs = 0;
  const { lines, log } = capture();
  const fatal: StartRefusedError[] = [];
  const h = refusalHandler(
    log,
    () => 10,
    (e) => void fatal.push(e),
    new LogLimiter(60_000, () => nowMs),
  );
  for (let i = 0; i <= 120; i++, nowMs += 500) h('cluster token mismatch');
  h('another reason');
  assert.equal(lines.length, 3); // at 0 s, at 60 s (with the held count), and the other reason
  assert.deepEqual(lines[1], {
    reason: 'cluster token mismatch',
    held: 119,
    m: 'a peer refused this member for its identity',
  });
  assert.equal(fatal.length, 0);
});

test('a member that never saw an entry committed stops at the first refusal, once', () => {
  const { lines, log } = capture();
  const fatal: StartRefusedError[] = [];
  const h = refusalHandler(
    log,
    () => 0,
    (e) => void fatal.push(e),
  );
  h('not a member');
  h('not a member');
  assert.equal(fatal.length, 1);
  assert.equal(fatal[0]?.message, 'not a member');
  assert.equal(lines.length, 1);
});
