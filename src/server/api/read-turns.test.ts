// Per-source turns of reading (read-turns.ts) through real sockets: a source that starts more than
// its quantum of requests in one turn of the event loop while another source is present has its
// connections read again only in the next turn; a lone source is never paused; paused HTTP/2
// sessions are read again and answered.
import assert from 'node:assert/strict';
import { connect as h2connect } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import type { GetRequest, GetResult } from '../backend.ts';
import { FakeBackend } from './fake-backend.ts';
import { startApiServer, type ApiServer } from './server.ts';
import { post } from './test-util.ts';

const QUANTUM = 2;
const CONNECTIONS = 8;

/** Counts the turns of the event loop (one per check phase) while running. */
class TurnClock {
  turn = 0;
  #running = true;
  constructor() {
    const tick = (): void => {
      this.turn++;
      if (this.#running) setImmediate(tick);
    };
    setImmediate(tick);
  }
  stop(): void {
    this.#running = false;
  }
}

/** Records in which turn each Get of key `a` was answered. */
class TurnBackend extends FakeBackend {
  readonly turnsOfA: number[] = [];
  constructor(private readonly clock: TurnClock) {
    super();
  }
  override getNow(req: GetRequest): GetResult | null {
    if (req.key === 'a') this.turnsOfA.push(this.clock.turn);
    return super.getNow(req);
  }
}

function connectFrom(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port, localAddress }, () => resolve(s));
    s.once('error', reject);
  });
}

const GET_A =
  'POST /leasekv.v1.KV/Get HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"key":"a"}';

/** Resolves once `sock` has received one complete 200 answer (each answer is one small write). */
function answered(sock: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (c: Buffer): void => {
      text += c.toString();
      if (text.startsWith('HTTP/1.1 200') && text.includes('"found"')) {
        sock.off('data', onData);
        resolve();
      }
    };
    sock.on('data', onData);
    sock.once('error', reject);
  });
}

/**
 * Opens CONNECTIONS connections from 127.0.0.1 and writes one Get on each in the same instant, so
 * that all of them are readable together in the server's next poll; returns the turns they were
 * answered in.
 */
async function burst(server: ApiServer, backend: TurnBackend): Promise<number[]> {
  const socks = await Promise.all(Array.from({ length: CONNECTIONS }, () => connectFrom(server.port, '127.0.0.1')));
  try {
    // One request each first, so that every connection is accepted and handed over (one accept per
    // turn) before the burst.
    for (const s of socks) {
      const warm = answered(s);
      s.write(GET_A);
      await warm;
    }
    backend.turnsOfA.length = 0;
    const done = socks.map(answered);
    for (const s of socks) s.write(GET_A);
    // Let the bytes reach every server socket before this thread goes back to its loop (the server
    // runs in this thread too): a wait for delivery, not a performance bound.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    await Promise.all(done);
    return backend.turnsOfA;
  } finally {
    for (const s of socks) s.destroy();
  }
}

/** The most answers that fell in any one turn. */
const mostInOneTurn = (turns: readonly number[]): number => {
  const per = new Map<number, number>();
  for (const t of turns) per.set(t, (per.get(t) ?? 0) + 1);
  return Math.max(...per.values());
};

async function withServer(fn: (server: ApiServer, backend: TurnBackend) => Promise<void>): Promise<void> {
  const clock = new TurnClock();
  const backend = new TurnBackend(clock);
  const server = await startApiServer({
    host: '127.0.0.1',
    port: 0,
    backend,
    limits: { requestsPerSourcePerTurn: QUANTUM },
  });
  try {
    await fn(server, backend);
  } finally {
    clock.stop();
    await server.close();
  }
}

describe('per-source turns of reading', () => {
  test('a source over its quantum while another is present is read again only next turn', async () => {
    await withServer(async (server, backend) => {
      // Another source (127.0.0.2) has been served: it counts as present.
      const other = await connectFrom(server.port, '127.0.0.2');
      const first = answered(other);
      other.write(GET_A.replace('"a"', '"b"'));
      await first;
      const turns = await burst(server, backend);
      other.destroy();
      assert.equal(turns.length, CONNECTIONS);
      assert.ok(server.readTurns.pauses >= 1, 'the flooding source was paused');
      // Each HTTP/1.1 connection brings one request per read: the quantum, plus the one that crossed it.
      assert.ok(mostInOneTurn(turns) <= QUANTUM + 1, `answers per turn: ${JSON.stringify(turns)}`);
    });
  });

  test('a lone source is never paused', async () => {
    await withServer(async (server, backend) => {
      const turns = await burst(server, backend);
      assert.equal(turns.length, CONNECTIONS);
      assert.equal(server.readTurns.pauses, 0);
      assert.equal(mostInOneTurn(turns), CONNECTIONS, `all read in the same turn: ${JSON.stringify(turns)}`);
    });
  });

  test('paused HTTP/2 sessions are read again and every stream is answered', async () => {
    await withServer(async (server) => {
      assert.equal((await post(server.port, '/leasekv.v1.KV/Get', '{"key":"b"}')).status, 200);
      // The flooding source is 127.0.0.2 (the probe above was 127.0.0.1).
      const sessions = Array.from({ length: 4 }, () =>
        h2connect(`http://127.0.0.1:${server.port}`, {
          createConnection: () => netConnect({ host: '127.0.0.1', port: server.port, localAddress: '127.0.0.2' }),
        }),
      );
      try {
        const statuses = await Promise.all(
          sessions.flatMap((s) =>
            Array.from(
              { length: 16 },
              () =>
                new Promise<number>((resolve, reject) => {
                  const r = s.request({
                    ':method': 'POST',
                    ':path': '/leasekv.v1.KV/Get',
                    'content-type': 'application/json',
                  });
                  let status = 0;
                  r.on('response', (h) => (status = Number(h[':status'])));
                  r.on('end', () => resolve(status));
                  r.on('error', reject);
                  r.resume();
                  r.end('{"key":"a"}');
                }),
            ),
          ),
        );
        assert.deepEqual(new Set(statuses), new Set([200]));
        assert.equal(statuses.length, 64);
        assert.ok(server.readTurns.pauses >= 1, 'the flooding source was paused');
      } finally {
        for (const s of sessions) s.destroy();
      }
    });
  });
});
