// A refused membership change is an answer, not a leader hint: the client throws it at once
// (ChangeRefusedError with the reason) unless it passes by itself (retried until the deadline).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { test } from 'node:test';
import { ChangeRefusedError, DeadlineExceededError, LeasekvClient } from './index.ts';

/** Answers each request with the next of `answers` (the last one repeated); counts the requests. */
async function scripted(
  answers: readonly (readonly [number, string])[],
): Promise<{ server: Server; port: number; count: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const [status, body] = answers[Math.min(n, answers.length - 1)] as readonly [number, string];
      n++;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, count: () => n };
}

const refused = (reason: string, why: string): readonly [number, string] => [
  400,
  JSON.stringify({ code: 'failed_precondition', message: `membership change refused (${reason}): ${why}` }),
];

test('a permanent refusal (already-member) is thrown at once with its reason, not retried until the deadline', async () => {
  const s = await scripted([refused('already-member', 'n4 is already a voter')]);
  const kv = new LeasekvClient({ endpoints: [`127.0.0.1:${s.port}`], deadlineMs: 3000 });
  try {
    await assert.rejects(
      kv.cluster('MemberPromote', { id: 'n4' }),
      (e: unknown) =>
        e instanceof ChangeRefusedError && e.reason === 'already-member' && /already a voter/.test(e.message),
    );
    assert.equal(s.count(), 1);
  } finally {
    await kv.close();
    s.server.closeAllConnections();
    await new Promise<void>((resolve) => s.server.close(() => resolve()));
  }
});

test('a transient refusal (lease-not-confirmed) is retried', async () => {
  const s = await scripted([refused('lease-not-confirmed', 'not yet'), [200, '{"index":"7","members":[]}']]);
  const kv = new LeasekvClient({ endpoints: [`127.0.0.1:${s.port}`], deadlineMs: 3000 });
  try {
    const r = await kv.cluster('MemberRemove', { id: 'n2' });
    assert.equal(r['index'], '7');
    assert.equal(s.count(), 2);
  } finally {
    await kv.close();
    s.server.closeAllConnections();
    await new Promise<void>((resolve) => s.server.close(() => resolve()));
  }
});

test('an endpoint where something else answers (not a Connect error) is tried no more than a dead one', async () => {
  const foreign = await scripted([[404, '<html><body>Not Found</body></html>']]);
  const member = await scripted([[200, '{"found":true,"value":"x","index":"1"}']]);
  const ep = (s: { port: number }): string => `127.0.0.1:${s.port}`;
  const both = new LeasekvClient({ endpoints: [ep(foreign), ep(member)], deadlineMs: 2000 });
  const alone = new LeasekvClient({ endpoints: [ep(foreign)], deadlineMs: 500 });
  try {
    // The first attempt goes to the foreign server; the call goes on to the member.
    assert.equal((await both.get('k')).value, 'x');
    assert.equal(foreign.count(), 1);
    await assert.rejects(
      alone.get('k'),
      (e: unknown) =>
        e instanceof DeadlineExceededError &&
        /HTTP 404 \(application\/json\) is not a leasekv answer \(is this a leasekv client port\?\): "<html>/.test(
          e.message,
        ),
    );
  } finally {
    await both.close();
    await alone.close();
    for (const s of [foreign, member]) s.server.close();
  }
});
