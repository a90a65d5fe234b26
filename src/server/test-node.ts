// Test helper for the server's unit tests: one member started in this process (startNode) on
// 127.0.0.1 with a fresh data dir and timings that elect it within a second, and a call that
// retries while it has not elected itself yet. stop() stops it and removes the dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { post } from './api/test-util.ts';
import type { RawConfig } from './config-flags.ts';
import { buildNodeConfig, type NodeConfig } from './config.ts';
import { startNode, type RunningNode, type StartOptions } from './start.ts';
import { freePort, sleep } from '../testkit/wait.ts';

export interface SoloNode {
  readonly running: RunningNode;
  readonly cfg: NodeConfig;
  /** The client API's port. */
  readonly port: number;
  readonly dir: string;
  /** POSTs to /leasekv.v1.KV/METHOD and parses the answer; retried (bounded) while there is no leader yet. */
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
      electionTimeoutMs: '600',
      leaseMs: '500',
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
      for (let i = 0; ; i++) {
        const j = JSON.parse((await post(port, `/leasekv.v1.KV/${method}`, JSON.stringify(body))).body) as Record<
          string,
          unknown
        >;
        // The single member elects itself shortly after start.
        if (j['code'] === 'failed_precondition' && i < 100) {
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
