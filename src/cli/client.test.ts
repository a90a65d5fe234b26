// LeasekvClient against real API servers over fake backends: leader discovery through hints,
// retries and backoff within the deadline, typed errors, exactly-once session reuse on retry.
// (Lives under cli/ because only cli may import both client/ and server/.)
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import {
  DeadlineExceededError,
  InvalidArgumentError,
  LeasekvClient,
  NotLeaderError,
  UnavailableError as UnavailableErrorC,
} from '../client/index.ts';
import { OutcomeUnknownError, UnavailableError } from '../server/backend.ts';
import { fakeServer } from '../server/api/test-util.ts';

/** A port with nothing listening (connection refused). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('LeasekvClient', () => {
  test('follows a leader hint by address from a follower', async () => {
    const leader = await fakeServer({ backend: { id: 'n2' } });
    const follower = await fakeServer({
      backend: { id: 'n1', followerOf: { leaderId: 'n2', leaderClientAddr: `127.0.0.1:${leader.port}` } },
    });
    const client = new LeasekvClient({ endpoints: [`127.0.0.1:${follower.port}`], deadlineMs: 3000 });
    try {
      assert.equal((await client.put('k', 'v')).index, 1);
      assert.equal(client.leaderEndpoint, `127.0.0.1:${leader.port}`);
      assert.equal((await client.get('k')).value, 'v');
      assert.equal(follower.backend.calls.filter((c) => c.method === 'put').length, 1);
      assert.equal(leader.backend.data.get('k'), 'v');
      // A stale read may be answered by the follower itself.
      const stale = await new LeasekvClient({ endpoints: [`127.0.0.1:${follower.port}`] }).get('k', {
        consistency: 'stale',
      });
      assert.equal(stale.readMode, 'stale');
    } finally {
      await client.close();
      await leader.server.close();
      await follower.server.close();
    }
  });

  test('takes http:// endpoints and knows a hinted leader given as a URL (issue 10)', async () => {
    const leader = await fakeServer({ backend: { id: 'n2' } });
    const follower = await fakeServer({
      backend: { id: 'n1', followerOf: { leaderId: 'n2', leaderClientAddr: `127.0.0.1:${leader.port}` } },
    });
    const client = new LeasekvClient({
      endpoints: [`http://127.0.0.1:${follower.port}`, `http://127.0.0.1:${leader.port}/`],
      deadlineMs: 3000,
    });
    try {
      await client.put('k', 'v');
      assert.equal(client.leaderEndpoint, `127.0.0.1:${leader.port}`);
      // The hint matched the second endpoint: no third one was added.
      assert.deepEqual(
        (await client.statusAll()).map((s) => s.endpoint),
        [`127.0.0.1:${follower.port}`, `127.0.0.1:${leader.port}`],
      );
    } finally {
      await client.close();
      await leader.server.close();
      await follower.server.close();
    }
  });

  test('follows a hint that names only the id, via the status of the endpoints', async () => {
    const leader = await fakeServer({ backend: { id: 'n2' } });
    const follower = await fakeServer({ backend: { id: 'n1', followerOf: { leaderId: 'n2', leaderClientAddr: '' } } });
    const client = new LeasekvClient({
      endpoints: [`127.0.0.1:${follower.port}`, `127.0.0.1:${leader.port}`],
      deadlineMs: 3000,
    });
    try {
      await client.put('k', 'v');
      assert.equal(client.leaderEndpoint, `127.0.0.1:${leader.port}`);
      assert.equal(leader.backend.applied, 1);
    } finally {
      await client.close();
      await leader.server.close();
      await follower.server.close();
    }
  });

  test('two nodes naming each other as leader: backs off instead of spinning', async () => {
    const a = await fakeServer({ backend: { id: 'a' } });
    const b = await fakeServer({ backend: { id: 'b' } });
    a.backend.followerOf = { leaderId: 'b', leaderClientAddr: `127.0.0.1:${b.port}` };
    b.backend.followerOf = { leaderId: 'a', leaderClientAddr: `127.0.0.1:${a.port}` };
    const client = new LeasekvClient({
      endpoints: [`127.0.0.1:${a.port}`],
      deadlineMs: 400,
      backoff: { initialMs: 100 },
      random: () => 1,
    });
    try {
      await assert.rejects(client.put('k', 'v'), DeadlineExceededError);
      const attempts = a.backend.calls.length + b.backend.calls.length;
      // Bounded: 3 hints followed, then 100 ms and 200 ms pauses — about 12 attempts in 400 ms.
      // Unbounded it is 400 ms / round trip: 40 or more even on a loaded machine.
      assert.ok(attempts <= 20, `attempts ${attempts}`);
    } finally {
      await client.close();
      await a.server.close();
      await b.server.close();
    }
  });

  test('retries past a dead endpoint and an unavailable node', async () => {
    const leader = await fakeServer();
    leader.backend.failNext.push(new UnavailableError('no quorum'));
    const client = new LeasekvClient({
      endpoints: [`127.0.0.1:${await deadPort()}`, `127.0.0.1:${leader.port}`],
      deadlineMs: 3000,
      backoff: { initialMs: 5 },
    });
    try {
      assert.equal((await client.put('k', 'v')).index, 1);
      assert.equal(leader.backend.calls.length, 2);
    } finally {
      await client.close();
      await leader.server.close();
    }
  });

  test('exactly-once: a retried write reuses its (clientId, seq) and applies once', async () => {
    const leader = await fakeServer();
    // The first attempt applies but its answer is lost, as when leadership changes after proposing.
    leader.backend.failAfterApply.push(new OutcomeUnknownError('lost leadership'));
    const client = new LeasekvClient({
      endpoints: [`127.0.0.1:${leader.port}`],
      clientId: 'c1',
      backoff: { initialMs: 5 },
    });
    try {
      const res = await client.put('k', 'v');
      assert.equal(res.index, 1);
      assert.equal(leader.backend.applied, 1);
      const puts = leader.backend.calls
        .filter((c) => c.method === 'put')
        .map((c) => (c.req as { session?: unknown }).session);
      assert.deepEqual(puts, [
        { clientId: 'c1/0', seq: 1 },
        { clientId: 'c1/0', seq: 1 },
      ]);
      // The next write on the session takes the next seq.
      await client.delete('k');
      assert.deepEqual((leader.backend.calls.at(-1)!.req as { session?: unknown }).session, {
        clientId: 'c1/0',
        seq: 2,
      });
      // Concurrent writes never share a session slot.
      await Promise.all(Array.from({ length: 8 }, (_, i) => client.put(`c${i}`, 'x')));
      assert.equal(leader.backend.applied, 10);
    } finally {
      await client.close();
      await leader.server.close();
    }
  });

  test('without sessions, a write whose outcome is unknown is not retried', async () => {
    const leader = await fakeServer();
    leader.backend.failAfterApply.push(new OutcomeUnknownError('lost leadership'));
    const client = new LeasekvClient({
      endpoints: [`127.0.0.1:${leader.port}`],
      sessions: false,
      backoff: { initialMs: 5 },
    });
    try {
      await assert.rejects(client.put('k', 'v'), (e: unknown) => e instanceof UnavailableErrorC && e.outcomeUnknown);
      assert.equal(leader.backend.applied, 1);
      assert.equal(leader.backend.calls.length, 1);
      // Reads are retried as before.
      leader.backend.failNext.push(new UnavailableError('no quorum'));
      assert.equal((await client.get('k')).value, 'v');
    } finally {
      await client.close();
      await leader.server.close();
    }
  });

  test('typed errors: invalid argument at once, deadline when nothing answers', async () => {
    const leader = await fakeServer();
    const client = new LeasekvClient({
      endpoints: [`127.0.0.1:${leader.port}`],
      deadlineMs: 300,
      backoff: { initialMs: 10 },
    });
    const dead = new LeasekvClient({
      endpoints: [`127.0.0.1:${await deadPort()}`],
      deadlineMs: 300,
      backoff: { initialMs: 10 },
    });
    try {
      await assert.rejects(
        client.get(''),
        (e: unknown) => e instanceof InvalidArgumentError && /key must not be empty/.test(e.message),
      );
      assert.equal(leader.backend.calls.length, 0);
      const t0 = performance.now();
      await assert.rejects(
        dead.get('k'),
        (e: unknown) =>
          e instanceof DeadlineExceededError && /deadline of 300 ms exceeded after \d+ attempt/.test(e.message),
      );
      assert.ok(performance.now() - t0 < 2000);
      leader.backend.followerOf = { leaderId: '', leaderClientAddr: '' };
      await assert.rejects(
        client.put('k', 'v'),
        (e: unknown) => e instanceof DeadlineExceededError && /not leader/.test(e.message),
      );
      const direct = await client.status().catch((e: unknown) => e);
      assert.ok(!(direct instanceof NotLeaderError));
    } finally {
      await client.close();
      await dead.close();
      await leader.server.close();
    }
  });
});
