// `leasekv serve`: run one member of a cluster until SIGTERM/SIGINT (serve-stop.ts: at any moment).
import type { Logger } from 'pino';
import { buildNodeConfig, flagHelp, NodeConfigError, rawFromArgs, type NodeConfig } from '../../server/config.ts';
import { ConfigError } from '../../raft/config.ts';
import { DataDirLockedError } from '../../storage/dir_lock.ts';
import { nodeLogger, startNode } from '../../server/start.ts';
import { StartAbortedError } from '../../server/start-abort.ts';
import { ServeStop } from './serve-stop.ts';
import { StartRefusedError } from '../../server/identity.ts';
import { EXIT_MEMBER_REMOVED, MemberRemovedError } from '../../server/removal.ts';
import type { RunningNode } from '../../server/start.ts';
import { observabilityRoutes } from '../../server/dashboard/index.ts';
import { plaintextRefusal } from '../../server/tls-config.ts';
import { unknownVariables } from '../../server/config-args.ts';

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
  let cfg: NodeConfig;
  const unknownEnv = unknownVariables(process.env);
  try {
    cfg = buildNodeConfig(rawFromArgs(argv, process.env));
  } catch (e) {
    // A setting reported missing or wrong may be one whose variable was mistyped.
    for (const line of unknownEnv) console.error(`leasekv serve: warning: ${line}`);
    return startFailure(e, null);
  }
  const refusal = plaintextRefusal(cfg.tls);
  if (refusal !== null) {
    console.error(`leasekv serve: ${refusal}`);
    return 2;
  }
  const log = nodeLogger(cfg);
  for (const line of unknownEnv) log.warn(line);
  // Before any start-up work: a SIGTERM/SIGINT from here on stops the node cleanly (serve-stop.ts).
  const stop = new ServeStop(log, cfg.stopTimeoutMs);
  let running: RunningNode;
  try {
    const checkpoint = stop.checkpoint(process.env['LEASEKV_TEST_PAUSE_AT']);
    running = await startNode(cfg, {
      logger: log,
      signal: stop.signal,
      ...(checkpoint === undefined ? {} : { checkpoint }),
      routes: (node, parts, effective) =>
        observabilityRoutes(node, parts, effective, process.env['LEASEKV_CONTROL_URL'] ?? ''),
    });
  } catch (e) {
    const code = startFailure(e, log);
    stop.startEnded(code);
    return code;
  }
  return stop.serve(running);
}

/** The exit code (and one line on stderr) for a start-up that did not end serving. */
function startFailure(e: unknown, log: Logger | null): number {
  if (e instanceof StartAbortedError && log !== null) {
    log.info({ at: e.point }, 'stopped before serving: everything start-up held is released');
    return 0;
  }
  if (e instanceof NodeConfigError || e instanceof ConfigError) {
    console.error(`leasekv serve: ${e.message}`);
    return 2;
  }
  if (e instanceof DataDirLockedError) {
    console.error(`leasekv serve: ${e.message}`);
    return 1;
  }
  if (e instanceof MemberRemovedError) {
    // Its data says it was removed: logged by the node; the code tells a supervisor not to restart it.
    console.error(`leasekv serve: ${e.message}`);
    return EXIT_MEMBER_REMOVED;
  }
  if (e instanceof StartRefusedError) {
    console.error(`leasekv serve: refusing to start: ${e.message}`);
    return 2;
  }
  console.error(`leasekv serve: could not start: ${(e as Error).message}`);
  return 1;
}
