// `node --import tsx src/bench/put-path-cost.ts [ROUNDS] [TURNS] [PUTS_PER_TURN]`: what a Put costs
// the leader's node thread between the client API thread's message and the answer sent back, as an
// A/B in one process, in alternating rounds: one member started here (it commits alone), fed turns
// of plain Puts (100-byte values, 1000 keys) as the node's side of the API thread's port receives
// them (node-side.ts), a turn's answers sent back as one message.
//   object: as before session 14 — each Put an object ({t: 'put', id, req, timeoutMs}) to rebuild
//           (v8.deserialize of the turn's batch), putQuick (promises, encodeCommand), an answer
//           object per Put ({t: 'ok', id, v}) to serialize;
//   packed: the turn's Puts as one buffer of encoded commands (put-pack.ts) proposed as they are
//           by putCommand, the answers as numbers ({t: 'putok', a}).
// v8.serialize/deserialize stand for the port's structured clone (the same serializer). Per round:
// CPU ns per Put of the node thread and of the whole process (the WAL worker and V8's helper threads
// too; the API thread idles), from /proc/self/task/*/schedstat. Used for docs/benchmarks.md, "Write
// path, session 14 (leader)".
import { loadavg } from 'node:os';
import { deserialize, serialize } from 'node:v8';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { buildNodeConfig } from '../server/config.ts';
import { startNode, type RunningNode } from '../server/start.ts';
import { NodeSide } from '../server/api-thread/node-side.ts';
import { PutPacker } from '../server/api-thread/put-pack.ts';
import { encodeError, type ToApi, type ToNode } from '../server/api-thread/protocol.ts';
import { threadStats } from './thread-stat.ts';

type Mode = 'object' | 'packed';

function cpuNs(): { main: number; all: number } {
  let main = 0;
  let all = 0;
  for (const [tid, s] of threadStats(process.pid)) {
    all += s.cpuNs;
    if (tid === process.pid) main = s.cpuNs;
  }
  return { main, all };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

/** One member alone (it commits by itself), on loopback, in a fresh folder; long timings, so that a stalled loop on a loaded machine does not cost it its leadership. */
async function soloMember(): Promise<{ running: RunningNode; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-put-path-'));
  try {
    const cfg = buildNodeConfig({
      id: 'n1',
      dataDir: dir,
      listenPeer: '127.0.0.1:0',
      listenClient: '127.0.0.1:0',
      peers: 'n1=127.0.0.1:1',
      heartbeatMs: '500',
      electionTimeoutMs: '5000',
      leaseMs: '4000',
      requestTimeoutMs: '20000',
      logLevel: 'silent',
    });
    const running = await startNode(cfg, { logger: pino({ level: 'silent' }) });
    return {
      running,
      close: async () => {
        await running.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** Waits until the member elected itself: a Put goes through. */
async function electedPut(node: RunningNode['node']): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await node.putQuick({ key: 'warm', value: 'up' }, 5_000);
      return;
    } catch (e) {
      if (i > 200) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function main(argv: readonly string[]): Promise<void> {
  const [rounds = 8, turns = 200, perTurn = 64] = argv.map(Number);
  const { running, close } = await soloMember();
  try {
    const node = running.node;
    await electedPut(node);
    const value = 'v'.repeat(100);
    let nextId = 1;
    let nextKey = 0;
    const key = (): string => `bench-${String(nextKey++ % 1000).padStart(8, '0')}`;
    const failed: Record<Mode, string[]> = { object: [], packed: [] };
    /** A turn's message as the API thread sends it (serialized there, so before what is measured). */
    const message = (mode: Mode): Buffer => {
      if (mode === 'object') {
        const ms: ToNode[] = [];
        for (let i = 0; i < perTurn; i++)
          ms.push({ t: 'put', id: nextId++, req: { key: key(), value }, timeoutMs: 10_000 });
        return serialize({ t: 'batch', ms } satisfies ToNode);
      }
      const packer = new PutPacker();
      const opened = packer.add(nextId++, 10_000, key(), value) as ToNode;
      for (let i = 1; i < perTurn; i++) packer.add(nextId++, 10_000, key(), value);
      packer.seal();
      return serialize(opened);
    };

    /** One turn: the message received and handled; resolves once its answers were sent back. */
    let turnDone: (() => void) | null = null;
    let left = 0;
    // Every Put's end, either path (node.ts emits it just before answering).
    node.events.on('request', () => {
      if (--left === 0) setImmediate(() => turnDone?.());
    });
    const turn = (mode: Mode, bytes: Buffer): Promise<void> =>
      new Promise((resolve) => {
        left = perTurn;
        const answers: ToApi[] = [];
        const post = (m: ToApi): void => {
          if (m.t === 'err') failed[mode].push(`${m.e.name}: ${m.e.message}`);
          answers.push(m);
        };
        // Answers are queued and sent once per turn (turn-batch.ts): here once all were queued.
        turnDone = () => {
          side.sealAnswers();
          serialize(answers.length === 1 ? answers[0] : ({ t: 'batch', ms: answers } satisfies ToApi));
          resolve();
        };
        const side = new NodeSide(node, undefined, post);
        const got = deserialize(bytes) as ToNode;
        if (mode === 'packed') {
          side.handle(got);
          return;
        }
        // node-side.ts's #put before session 14: putQuick, one 'ok' object per Put.
        if (got.t !== 'batch') throw new Error('expected a batch');
        for (const m of got.ms) {
          if (m.t !== 'put') continue;
          const id = m.id;
          node.putQuick(m.req, m.timeoutMs).then(
            (v) => post({ t: 'ok', id, v }),
            (e: unknown) => post({ t: 'err', id, e: encodeError(e) }),
          );
        }
      });

    const results: Record<Mode, { main: number[]; all: number[] }> = {
      object: { main: [], all: [] },
      packed: { main: [], all: [] },
    };
    const run = async (mode: Mode, record: boolean): Promise<void> => {
      const msgs = Array.from({ length: turns }, () => message(mode));
      const c0 = cpuNs();
      for (const bytes of msgs) await turn(mode, bytes);
      const c1 = cpuNs();
      if (!record) return;
      const n = turns * perTurn;
      results[mode].main.push((c1.main - c0.main) / n);
      results[mode].all.push((c1.all - c0.all) / n);
    };
    // Warm-up: both paths optimized before the first recorded round.
    for (let i = 0; i < 4; i++) {
      await run('object', false);
      await run('packed', false);
    }
    for (let r = 0; r < rounds; r++) {
      const order: Mode[] = r % 2 === 0 ? ['object', 'packed'] : ['packed', 'object'];
      for (const m of order) await run(m, true);
    }
    for (const m of ['object', 'packed'] as const)
      if (failed[m].length > 0) console.log(`${m}: ${failed[m].length} Puts failed, e.g. ${failed[m][0]}`);
    const fmt = (xs: number[]): string => `${(median(xs) / 1000).toFixed(1)} µs`;
    for (const m of ['object', 'packed'] as const)
      console.log(
        `${m.padEnd(7)} node thread ${fmt(results[m].main)} per Put, process ${fmt(results[m].all)} (median of ${rounds})`,
      );
    const lower = results.packed.main.filter((x, i) => x < (results.object.main[i] as number)).length;
    console.log(
      `packed / object, node thread: ${(median(results.packed.main) / median(results.object.main)).toFixed(3)} ` +
        `(packed lower in ${lower} of ${rounds} rounds), load ${loadavg()[0]?.toFixed(1)}`,
    );
  } finally {
    await close();
  }
}

await main(process.argv.slice(2));
