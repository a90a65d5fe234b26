// The newest WAL segment deleted from a stopped member (docs/storage.md "Seals", session 11): a real
// one-member `leasekv serve` written past its first 64 MiB segment, stopped, its newest segment
// removed (an operator's `rm`, a copy that skipped the newest file) — the next start must refuse,
// exit non-zero and say which file is missing and what to do, instead of coming back without the
// entries (and the term and vote) that segment held.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { call, type CallResult, type Endpoint } from '../../testkit/http.ts';
import { LEASEKV_BIN, NodeProcess, tailFile } from '../../testkit/proc.ts';
import { freePorts, waitFor } from '../../testkit/wait.ts';
import { serveArgs } from '../serve-args.ts';

/** 512 KiB values: the first segment (64 MiB) fills after ~128 writes. */
const VALUE = 'v'.repeat(512 * 1024);
const SEGMENT_1 = '0000000000000001.wal';

test('a member whose newest WAL segment was deleted refuses to start and names the file', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'leasekv-walseal-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dataDir = join(root, 'n1');
  const [client, peer] = await freePorts(2);
  const ep: Endpoint = { host: '127.0.0.1', port: client! };
  const args = [
    LEASEKV_BIN,
    ...serveArgs({
      insecure: true,
      id: 'n1',
      dataDir,
      listenClient: `127.0.0.1:${client}`,
      listenPeer: `127.0.0.1:${peer}`,
      peers: `n1=127.0.0.1:${peer}`,
      // No snapshot (and so no compaction) while the first segment fills.
      settings: { 'snapshot-threshold-bytes': 1024 * 1024 * 1024, 'snapshot-threshold': 1_000_000 },
    }),
  ];
  const procs: NodeProcess[] = [];
  const start = (log: string): NodeProcess => {
    const p = NodeProcess.spawn({ args, logPath: join(root, log) });
    procs.push(p);
    return p;
  };
  try {
    const n1 = start('n1.log');
    const put = (i: number): Promise<CallResult> =>
      call(ep, 'Put', { key: `k${i}`, value: VALUE, clientId: 'c1', seq: i + 1 }, 20_000);
    // Each put until it is answered ok: on a loaded machine the member can miss its own lease
    // renewal while it writes 512 KiB entries, step down and elect itself again, refusing the puts
    // in between. The same clientId and seq make a retry apply at most once.
    const putOk = (i: number, what: string): Promise<true> =>
      waitFor(what, 60_000, async () => ((await put(i)).kind === 'ok' ? true : undefined), {
        intervalMs: 100,
        hopeless: () => (n1.alive ? undefined : `n1 exited\n${tailFile(join(root, 'n1.log'), 20)}`),
      });
    await putOk(0, 'a leader');
    // Until the WAL has rotated into its second segment, and a few writes more (bounded).
    let i = 1;
    for (; i <= 400 && !existsSync(join(dataDir, SEGMENT_1)); i++) await putOk(i, `put k${i}`);
    assert.ok(existsSync(join(dataDir, SEGMENT_1)), `no rotation after ${i} writes`);
    for (const k of [i, i + 1, i + 2]) await putOk(k, `put k${k}`);
    n1.signal('SIGTERM');
    assert.deepEqual(await n1.waitExit(30_000), { code: 0, signal: null });

    unlinkSync(join(dataDir, SEGMENT_1));
    const again = start('n1-restart.log');
    const exit = await again.waitExit(30_000);
    const log = readFileSync(join(root, 'n1-restart.log'), 'utf8');
    assert.ok(exit !== null && exit.code !== 0, `started without its newest segment: ${JSON.stringify(exit)}\n${log}`);
    assert.ok(log.includes(`${join(dataDir, SEGMENT_1)} is not in the data dir`), log);
    assert.match(log, /may have been acknowledged/);
    assert.match(log, /copy it again whole from its source/);
    assert.match(log, /replace this member/);
    assert.deepEqual(
      readdirSync(dataDir).filter((f) => f.endsWith('.wal')),
      ['0000000000000000.wal'],
      'the refusal changed nothing',
    );
  } finally {
    for (const p of procs) if (p.alive) await p.kill();
  }
});
