// A write's error says whether it may have been applied (LeasekvError.outcomeUnknown; docs/api.md,
// "Outcome unknown"): true once any attempt may have reached a member without a definite answer,
// false when nothing was sent or every attempt was refused definitely; always false for reads.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { fakeMember as member, type FakeHandler } from '../testkit/fake-member.ts';
import { DeadlineExceededError, InvalidArgumentError, LeasekvClient, LeasekvError, UnavailableError } from './index.ts';

function answer(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
const notLeader = (res: ServerResponse): void =>
  answer(res, 400, { code: 'failed_precondition', message: 'not leader; no leader known' });
const held: ServerResponse[] = [];
/** Never answers (until the member closes). */
const silent: FakeHandler = (_q, res) => void held.push(res);

const unknown = (cls: new (...a: never[]) => LeasekvError, yes: boolean) => (e: unknown) => {
  assert.ok(e instanceof cls, `${String(e)} is not a ${cls.name}`);
  assert.equal(e.outcomeUnknown, yes, e.message);
  assert.equal(/may or may not have been applied/.test(e.message), yes, e.message);
  return true;
};

async function withMember(
  handle: FakeHandler,
  opts: Partial<ConstructorParameters<typeof LeasekvClient>[0]>,
  body: (kv: LeasekvClient) => Promise<void>,
): Promise<void> {
  const m = await member(handle);
  const kv = new LeasekvClient({ endpoints: [m.ep], deadlineMs: 400, attemptTimeoutMs: 150, ...opts });
  try {
    await body(kv);
  } finally {
    await kv.close();
    await m.close();
  }
}

test('a write sent to a member that never answers: DeadlineExceededError, outcome unknown; a read: known', async () => {
  await withMember(silent, {}, async (kv) => {
    await assert.rejects(kv.put('k', 'v'), unknown(DeadlineExceededError, true));
    await assert.rejects(
      kv.txn({ success: [{ op: 'put', key: 'k', value: 'v' }] }),
      unknown(DeadlineExceededError, true),
    );
    await assert.rejects(kv.ttlGrant(5000), unknown(DeadlineExceededError, true));
    await assert.rejects(kv.get('k'), unknown(DeadlineExceededError, false));
  });
});

test('without sessions the write is thrown after its first attempt, outcome unknown', async () => {
  await withMember(silent, { sessions: false }, async (kv) => {
    await assert.rejects(kv.delete('k'), unknown(UnavailableError, true));
  });
});

test('refused definitely on every attempt (not_leader, invalid_argument): outcome known', async () => {
  await withMember(
    (_q, res) => notLeader(res),
    {},
    async (kv) => {
      await assert.rejects(kv.put('k', 'v'), unknown(DeadlineExceededError, false));
    },
  );
  await withMember(
    (_q, res) => answer(res, 400, { code: 'invalid_argument', message: 'bad' }),
    {},
    async (kv) => {
      await assert.rejects(kv.put('k', 'v'), unknown(InvalidArgumentError, false));
    },
  );
});

test('sticky: an attempt that timed out, then refusals, still leaves the outcome unknown', async () => {
  await withMember(
    (q, res, n) => (n === 0 ? silent(q, res, n) : notLeader(res)),
    {},
    async (kv) => {
      await assert.rejects(kv.put('k', 'v'), unknown(DeadlineExceededError, true));
    },
  );
});

test("the server's leasekv-outcome: unknown, then unavailable: outcome unknown", async () => {
  const handle: FakeHandler = (_q, res, n) =>
    answer(
      res,
      503,
      { code: 'unavailable', message: n === 0 ? 'outcome unknown: leadership lost' : 'no leader' },
      n === 0 ? { 'leasekv-outcome': 'unknown' } : {},
    );
  await withMember(handle, {}, async (kv) => {
    await assert.rejects(kv.put('k', 'v'), unknown(DeadlineExceededError, true));
  });
});

test('queued behind maxConcurrency, never sent: known; close() with a write in flight: unknown', async () => {
  await withMember(silent, { maxConcurrency: 1, deadlineMs: 5000, attemptTimeoutMs: 5000 }, async (kv) => {
    const first = kv.put('a', '1');
    const firstFailed = assert.rejects(first, unknown(LeasekvError, true));
    await assert.rejects(kv.put('b', '2', { deadlineMs: 200 }), unknown(DeadlineExceededError, false));
    await kv.close();
    await firstFailed;
  });
});

test('nothing listening (connection refused): known', async () => {
  const m = await member(silent);
  const ep = m.ep;
  await m.close();
  const kv = new LeasekvClient({ endpoints: [ep], deadlineMs: 300 });
  try {
    await assert.rejects(kv.put('k', 'v'), unknown(DeadlineExceededError, false));
  } finally {
    await kv.close();
  }
});
