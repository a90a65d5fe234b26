// `leasekv serve`: run one member of a cluster until SIGTERM/SIGINT.
import { buildNodeConfig, flagHelp, NodeConfigError, rawFromArgs } from '../../server/config.ts';
import { ConfigError } from '../../raft/config.ts';
import { DataDirLockedError } from '../../storage/dir_lock.ts';
import { startNode } from '../../server/start.ts';
import { StartRefusedError } from '../../server/identity.ts';
import type { RunningNode } from '../../server/start.ts';
import { observabilityRoutes } from '../../server/dashboard/index.ts';
import { plaintextRefusal } from '../../server/tls-config.ts';

const USAGE = `usage: leasekv serve --id ID --data-dir DIR --listen-peer HOST:PORT --listen-client HOST:PORT
                     [--peers id=HOST:PORT,... [--client-addrs id=HOST:PORT,...]] [options]

--peers bootstraps a brand-new cluster (every member's data dir empty); the cluster's identity and
members are then recorded in each data dir, and a node with data starts from them (--peers may be
left out; if given it must agree).

Every option may also come from the environment variable in brackets, or from --config FILE.

${flagHelp()}`;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  let running: RunningNode;
  try {
    const cfg = buildNodeConfig(rawFromArgs(argv, process.env));
    const refusal = plaintextRefusal(cfg.tls);
    if (refusal !== null) {
      console.error(`leasekv serve: ${refusal}`);
      return 2;
    }
    running = await startNode(cfg, {
      routes: (node, parts, effective) =>
        observabilityRoutes(node, parts, effective, process.env['LEASEKV_CONTROL_URL'] ?? ''),
    });
  } catch (e) {
    if (e instanceof NodeConfigError || e instanceof ConfigError) {
      console.error(`leasekv serve: ${e.message}`);
      return 2;
    }
    if (e instanceof DataDirLockedError) {
      console.error(`leasekv serve: ${e.message}`);
      return 1;
    }
    if (e instanceof StartRefusedError) {
      console.error(`leasekv serve: refusing to start: ${e.message}`);
      return 2;
    }
    console.error(`leasekv serve: could not start: ${(e as Error).message}`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: string): void => {
      signals++;
      if (signals > 1) {
        running.log.warn(`second ${sig}: exiting now`);
        process.exit(130);
      }
      running.log.info(`${sig} received: stopping gracefully`);
      running.stop().then(
        () => resolve(0),
        (err: unknown) => {
          running.log.error({ err }, 'error while stopping');
          resolve(1);
        },
      );
    };
    // Certificates are read again on SIGHUP: new handshakes use them, open connections keep theirs.
    process.on('SIGHUP', () => {
      running.log.info('SIGHUP received: reloading the TLS files');
      running.reloadTls();
    });
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
    running.node.events.on('fatal', (err: unknown) => {
      const refused = err instanceof StartRefusedError;
      if (refused) console.error(`leasekv serve: refusing to run: ${err.message}`);
      // Exits non-zero whatever stopping meets (closing a failed disk may fail again): never an
      // unhandled rejection with a stack trace.
      running.stop().then(
        () => resolve(refused ? 2 : 1),
        (e: unknown) => {
          running.log.error(
            { cause: e instanceof Error ? e.message : String(e) },
            'stopping after a fatal error did not finish cleanly',
          );
          resolve(refused ? 2 : 1);
        },
      );
    });
  });
}
