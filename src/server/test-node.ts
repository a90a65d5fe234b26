// Test helper for the server's unit tests: one member started in this process (startNode) on
// 127.0.0.1 with a fresh data dir and timings that elect it within seconds, and a call that
// retries while it is not leader. stop() stops it and removes the dir.
//
// The lease is long (1.9 s) for a loaded machine: a solo leader whose loop stalls past its lease
// steps down ('lease renewal failed') and answers "not leader; no leader known" until it elects
// itself again, and this process's loop is the test's loop too. With a 500 ms lease a fresh-clone
// run at load 35 failed answer-cap.test's direct requests that way.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { post } from './api/test-util.ts';
import type { RawConfig } from './config-flags.ts';
import { buildNodeConfig, type NodeConfig } from './config.ts';
import { startNode, type RunningNode, type StartOptions } from './start.ts';
import { freePort, sleep } from '../testkit/wait.ts';

/** How long call() retries while the member is not leader: an election on a loaded machine. */
export const NOT_LEADER_WAIT_MS = 30_000;

export interface SoloNode {
  readonly running: RunningNode;
  readonly cfg: NodeConfig;
  /** The client API's port. */
  readonly port: number;
  readonly dir: string;
  /** POSTs to /leasekv.v1.KV/METHOD and parses the answer; retried (up to 30 s) while it is not leader. */
  call(method: string, body: object): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** `raw`: settings over the defaults (as the flags' keys in config-flags.ts); `opts`: startNode's. */
export async function startSoloNode(
  name: string,
  raw: Partial<RawConfig> = {},
  opts: StartOptions = {},
): Promise<SoloNode> {
  const dir = mkdtempSync(join(tmpdir(), `leasekv-${name}-`));
  let running: RunningNode;
  let cfg: NodeConfig;
  try {
    cfg = buildNodeConfig({
      id: 'n1',
      dataDir: dir,
      listenPeer: '127.0.0.1:0',
      listenClient: `127.0.0.1:${await freePort()}`,
      peers: 'n1=127.0.0.1:1',
      heartbeatMs: '100',
      electionTimeoutMs: '2000',
      leaseMs: '1900',
      logLevel: 'silent',
      ...raw,
    });
    running = await startNode(cfg, { logger: pino({ level: 'silent' }), ...opts });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const port = running.api.port;
  return {
    running,
    cfg,
    port,
    dir,
    async call(method, body) {
      const until = performance.now() + NOT_LEADER_WAIT_MS;
      for (;;) {
        const j = JSON.parse((await post(port, `/leasekv.v1.KV/${method}`, JSON.stringify(body))).body) as Record<
          string,
          unknown
        >;
        // The single member elects itself shortly after start (and again after a stall).
        if (j['code'] === 'failed_precondition' && performance.now() < until) {
          await sleep(50);
          continue;
        }
        return j;
      }
    },
    async stop() {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
