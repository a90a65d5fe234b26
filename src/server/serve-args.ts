// The command line of `leasekv serve` for one member, built in this one place by everything that
// starts members: `leasekv up`, the test kit's process cluster (integration and CLI tests) and the
// benchmark. The inverse of config-flags.ts: every setting must be one of its flags.
import { FLAGS } from './config-flags.ts';
import { assert } from '../util/assert.ts';

/**
 * Node's own options for a `leasekv serve` process, put before the script by everything that starts
 * members. `--max-semi-space-size=4`: the node thread's young generation is 8 MiB instead of V8's
 * default 32 MiB, which it grows to under load and keeps resident (issue 16; docs/storage.md
 * "Memory"). Only a Node option sets it — V8 reads it when the main thread's heap is made, before
 * any of our code runs (setFlagsFromString later has no effect, measured) — so bin/leasekv.mjs's `#!`
 * line repeats it for a `leasekv serve` run from PATH (bin.test checks the two agree). In alternating slices against the default,
 * the nodes' CPU per write was within the same-build control's spread (docs/benchmarks.md, "Issue
 * 16, session 6").
 * `--interrupt-budget=8192` (V8's default 67584): V8 optimizes a hot function with TurboFan after
 * about an eighth of the bytecode run it otherwise waits for. A member that starts serving — a
 * start, a restart, a follower that becomes leader, whose client API thread has served nothing yet
 * — spent its first ~10 s under load in the interpreter and baseline code, at a third or more
 * above its settled CPU per write; per-message code (run once per AppendRequest, WAL batch or port
 * message, not per write) took longer still. In alternating slices this cut the members' CPU per
 * write 5–19 % over the first 10 s and ~10 % after a 15 s warm-up (docs/benchmarks.md, "Write
 * path, session 10"). Options given after these (a test's or the bench's) override them.
 */
export const SERVE_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=4', '--interrupt-budget=8192'];

/**
 * The environment a `leasekv serve` process starts with, beside the starter's own (read by glibc at
 * start only, so a starter sets them; values the operator set are kept):
 * - MALLOC_ARENA_MAX=2: glibc's malloc limited to 2 arenas (its default is 8 per core). Every thread
 *   that allocates — the node thread, the client API thread, the WAL worker, libuv's pool, V8's
 *   helpers — otherwise gets an arena of its own, and each keeps the memory its thread freed (the key
 *   pages, log entry bytes and snapshot buffers are malloc'd): with a million keys the members were
 *   ~10–20 MiB smaller with 2, at the same CPU per write (docs/benchmarks.md, "Issue 16, session 6").
 * - MALLOC_MMAP_THRESHOLD_=262144: every allocation of 256 KiB or more gets its own mapping, returned
 *   to the system when freed. glibc's default threshold moves up to the size of the largest mapped
 *   block freed (up to 32 MiB), after which the 2 MiB pieces of a snapshot install and other large
 *   transient buffers come from the arenas, between live key pages, and stay there as holes: a new
 *   member kept 342–345 MiB with a million keys 15 s after it caught up, 278–280 MiB with this, at the
 *   same write rate (docs/benchmarks.md, "Issue 16, session 7: glibc's mmap threshold").
 */
export function serveNodeEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return {
    MALLOC_ARENA_MAX: env['MALLOC_ARENA_MAX'] ?? '2',
    MALLOC_MMAP_THRESHOLD_: env['MALLOC_MMAP_THRESHOLD_'] ?? String(256 * 1024),
  };
}

/** A setting's value as it goes on the command line. */
export type SettingValue = string | number | boolean;

export interface ServeSpec {
  /** --insecure: plaintext client port and peer links (serve refuses plaintext without it). */
  readonly insecure: boolean;
  readonly id: string;
  readonly dataDir: string;
  /** HOST:PORT to listen on for peers and for clients. */
  readonly listenPeer: string;
  readonly listenClient: string;
  /** --peers, `id=HOST:PORT,...` (memberList): bootstraps a brand-new cluster, or must agree with the data. */
  readonly peers?: string;
  /** --client-addrs, `id=HOST:PORT,...`: members' client addresses for leader hints. */
  readonly clientAddrs?: string;
  /** --join: client endpoints of current members, for a member just added. */
  readonly join?: readonly string[];
  /** --peer-routes, `id=HOST:PORT,...`: where this node dials those members instead (proxies). */
  readonly peerRoutes?: string;
  /**
   * Any other flags, by name without the leading `--` (`'lease-ms': 450`), in order; undefined
   * values are left out. true/false go as on/off, or for a flag without a value as present/absent.
   */
  readonly settings?: Readonly<Record<string, SettingValue | undefined>>;
}

/** `id=addr,...` as --peers and --client-addrs take it. */
export function memberList(members: Iterable<readonly [string, string]>): string {
  return [...members].map(([id, addr]) => `${id}=${addr}`).join(',');
}

/** The arguments after the leasekv command: `serve --id … --data-dir … …`. */
export function serveArgs(spec: ServeSpec): string[] {
  const args = [
    'serve',
    ...(spec.insecure ? ['--insecure'] : []),
    '--id',
    spec.id,
    '--data-dir',
    spec.dataDir,
    '--listen-peer',
    spec.listenPeer,
    '--listen-client',
    spec.listenClient,
  ];
  if (spec.peers !== undefined) args.push('--peers', spec.peers);
  if (spec.clientAddrs !== undefined) args.push('--client-addrs', spec.clientAddrs);
  if (spec.join !== undefined) args.push('--join', spec.join.join(','));
  if (spec.peerRoutes !== undefined) args.push('--peer-routes', spec.peerRoutes);
  for (const [name, value] of Object.entries(spec.settings ?? {})) {
    if (value === undefined) continue;
    const flag = `--${name}`;
    const known = FLAGS[flag];
    assert(known !== undefined, `serveArgs: leasekv serve has no flag ${flag}`);
    if (known.boolean === true) {
      if (value === true) args.push(flag);
    } else args.push(flag, typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value));
  }
  return args;
}
