// `npm run bench` options, validated once.
import { nearest } from '../util/suggest.ts';
import { LOAD_CLIENTS, type LoadClient } from './load.ts';

/** The attacks of `--scenario abuse` (abuse.ts), in the order they run. */
export const ATTACKS = [
  'json-depth',
  'rapid-reset',
  'conn-burst',
  'half-sent',
  'malformed',
  'peer',
  'overload',
  'overload-writes',
  'snapshot',
] as const;
export type Attack = (typeof ATTACKS)[number];

const SCENARIOS = [
  'load',
  'failover',
  'scale',
  'membership',
  'targets',
  'abuse',
  'watch',
  'txn',
  'tls',
  'auth',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface BenchArgs {
  readonly nodes: number;
  readonly clients: number;
  readonly durationS: number;
  /**
   * Seconds of unrecorded load before each measured run, or null for the scenario's own default
   * (warmupSFor). A fresh leasekv member runs its first ~10 s under load largely in V8's interpreter
   * and baseline code (docs/benchmarks.md, "Write path, session 10"); etcd has no JIT to warm.
   */
  readonly warmupS: number | null;
  readonly valueBytes: number;
  readonly readFraction: number;
  readonly readModes: readonly ('lease' | 'readindex' | 'stale')[];
  readonly peerDelayMs: number;
  readonly againstEtcd: boolean;
  readonly floor: boolean;
  /** Keep the run's work folder (the nodes' data and logs) instead of removing it at exit. */
  readonly keepWorkDir: boolean;
  readonly keys: number;
  readonly scenarios: readonly Scenario[];
  readonly scaleKeys: number;
  /** Keys per load request in the scale scenario: a Txn of that many puts (1: one Put each). */
  readonly scaleBatch: number;
  readonly rounds: number;
  readonly outDir: string;
  /** Where leasekv nodes of the load scenario write V8 CPU profiles (node --cpu-prof), or null. */
  readonly cpuProfDir: string | null;
  /** The load generator's plaintext HTTP client, the same for every system (load.ts). */
  readonly loadClient: LoadClient;
  /** The targets scenario runs 3 and 5 nodes × 0 and 25 ms peer delay instead of one cell. */
  readonly matrix: boolean;
  readonly attacks: readonly Attack[];
  readonly abuseKeys: number;
  readonly abuseOverload: number;
  readonly abuseLoadClients: number;
  readonly watchers: number;
}

export const USAGE = `usage: npm run bench -- [options]
  --nodes 3|5                  cluster size (default 3)
  --clients N                  closed-loop clients (default 16)
  --duration S                 seconds per measured run (default 10)
  --warmup S                   seconds of unrecorded load before each measured run, for every system
                               (default 15 in the targets scenario, so both are measured warm; 2 elsewhere)
  --value-bytes B              value size (default 100)
  --mix R:W                    read:write ratio (default 100:0; e.g. 0:100 for writes only)
  --read-mode M[,M]            lease, readindex, stale (default all three)
  --peer-delay-ms D            one-way delay on every peer link, via proxies (default 0)
  --against etcd               run the same workload against a 3-member etcd in the same run
  --no-floor                   skip the bare node:http floor
  --keep-work-dir              keep the run's work folder (nodes' data and logs; removed at exit otherwise)
  --keys N                     key space (default 1000)
  --scenario S[,S]             load and tls (the default), failover, scale, membership, targets (issue 16's
                               targets next to their measured ratios, for --nodes and --peer-delay-ms),
                               abuse (issue 13: attacks one at a time on a loaded 3-node cluster;
                               per attack elections, longest lease-read and write probe gaps,
                               consensus-loop lag from /metrics, how the node answered),
                               watch (1000 watchers on a prefix: delivery latency p50/p99, events/s)
                               and txn (compare-and-swap, 16 and 64 clients, --duration s each),
                               both beside etcd 3.4 in the same run when it is installed,
                               tls (issue 15; also 'auth'): lease reads and writes on a 3-node cluster
                               with TLS and auth off beside one with client TLS, peer mTLS and auth on
                               (a token on every request), --clients, --duration s of each operation
                               per setting, in alternating one-second slices
  --matrix                     targets: every cell of 3 and 5 nodes × 0 and 25 ms peer delay (~4× longer)
  --scale-keys N               keys to load for the scale scenario (default 1000000)
  --scale-batch N              keys per load request in the scale scenario, a Txn of N puts (default 100; 1: Put)
  --rounds N                   fresh clusters the membership scenario runs its changes on (default 3)
  --attacks A[,A]              abuse: which attacks (default all, in this order): json-depth,
                               rapid-reset, conn-burst, half-sent, malformed, peer, overload,
                               overload-writes, snapshot
  --abuse-keys N               abuse: keys of the snapshot attack (default 1000000, 100-byte values
                               unless --value-bytes; loading stops after 120 s, catch-up after 90 s)
  --abuse-overload N           abuse: requests in flight in the overload attack (default 4096,
                               4× the node's --max-pending-requests)
  --abuse-load-clients N       abuse: closed-loop clients loading the cluster throughout (default 8)
  --watchers N                 watch: watchers on the prefix (default 1000)
  --out DIR                    where results (JSON, SVG) go (default bench-results)
  --cpu-prof DIR               leasekv nodes of the load scenario write CPU profiles (.cpuprofile) to DIR
  --load-client lean|node-http the load generator's HTTP client for plaintext, the same for every system
                               (default lean: node:net, pre-encoded requests, answers checked;
                               node-http: node:http as before session 14, for comparison with older numbers)
  -h, --help                   this help`;

export class BenchArgsError extends Error {}

const FLAGS = [
  'nodes',
  'clients',
  'duration',
  'warmup',
  'value-bytes',
  'mix',
  'read-mode',
  'peer-delay-ms',
  'against',
  'no-floor',
  'keep-work-dir',
  'keys',
  'scenario',
  'scale-keys',
  'scale-batch',
  'rounds',
  'out',
  'cpu-prof',
  'load-client',
  'matrix',
  'attacks',
  'abuse-keys',
  'abuse-overload',
  'abuse-load-clients',
  'watchers',
  'help',
];

/** Warm-up before each measured run of `scenario`, ms: --warmup, or 15 s for targets and 2 s elsewhere. */
export function warmupMsFor(args: BenchArgs, scenario: Scenario): number {
  return (args.warmupS ?? (scenario === 'targets' ? 15 : 2)) * 1000;
}

/** True when argv asks for the usage (exit 0). */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

function int(v: string | undefined, name: string, min: number, max: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < min || n > max)
    throw new BenchArgsError(`${name} must be a whole number from ${min} to ${max}`);
  return n;
}

export function parseArgs(argv: readonly string[]): BenchArgs {
  const a = {
    nodes: 3,
    clients: 16,
    durationS: 10,
    warmupS: null as number | null,
    valueBytes: 100,
    readFraction: 1,
    readModes: ['lease', 'readindex', 'stale'] as BenchArgs['readModes'],
    peerDelayMs: 0,
    againstEtcd: false,
    floor: true,
    keepWorkDir: false,
    keys: 1000,
    scenarios: ['load', 'tls'] as readonly Scenario[],
    scaleKeys: 1_000_000,
    scaleBatch: 100,
    rounds: 3,
    outDir: 'bench-results',
    cpuProfDir: null as string | null,
    loadClient: 'lean' as LoadClient,
    matrix: false,
    attacks: [...ATTACKS] as readonly Attack[],
    abuseKeys: 1_000_000,
    abuseOverload: 4096,
    abuseLoadClients: 8,
    watchers: 1000,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const val = (): string | undefined => argv[++i];
    switch (flag) {
      case '--nodes':
        a.nodes = int(val(), '--nodes', 3, 5);
        if (a.nodes !== 3 && a.nodes !== 5) throw new BenchArgsError('--nodes must be 3 or 5');
        break;
      case '--clients':
        a.clients = int(val(), '--clients', 1, 1024);
        break;
      case '--duration':
        a.durationS = int(val(), '--duration', 1, 3600);
        break;
      case '--warmup':
        a.warmupS = int(val(), '--warmup', 0, 600);
        break;
      case '--value-bytes':
        a.valueBytes = int(val(), '--value-bytes', 1, 1 << 20);
        break;
      case '--keys':
        a.keys = int(val(), '--keys', 1, 10_000_000);
        break;
      case '--scale-keys':
        a.scaleKeys = int(val(), '--scale-keys', 1000, 10_000_000);
        break;
      case '--scale-batch':
        a.scaleBatch = int(val(), '--scale-batch', 1, 1000);
        break;
      case '--rounds':
        a.rounds = int(val(), '--rounds', 1, 20);
        break;
      case '--peer-delay-ms':
        a.peerDelayMs = int(val(), '--peer-delay-ms', 0, 10_000);
        break;
      case '--attacks': {
        const xs = (val() ?? '').split(',');
        for (const x of xs)
          if (!(ATTACKS as readonly string[]).includes(x))
            throw new BenchArgsError(`--attacks: unknown '${x}' (one of ${ATTACKS.join(', ')})`);
        a.attacks = xs as Attack[];
        break;
      }
      case '--abuse-keys':
        a.abuseKeys = int(val(), '--abuse-keys', 1000, 10_000_000);
        break;
      case '--abuse-overload':
        a.abuseOverload = int(val(), '--abuse-overload', 1, 20_000);
        break;
      case '--abuse-load-clients':
        a.abuseLoadClients = int(val(), '--abuse-load-clients', 0, 256);
        break;
      case '--watchers':
        a.watchers = int(val(), '--watchers', 1, 10_000);
        break;
      case '--out':
        a.outDir = val() ?? a.outDir;
        break;
      case '--cpu-prof': {
        const v = val();
        if (v === undefined || v.startsWith('-')) throw new BenchArgsError('--cpu-prof takes a directory');
        a.cpuProfDir = v;
        break;
      }
      case '--load-client': {
        const v = val() ?? '';
        if (!(LOAD_CLIENTS as readonly string[]).includes(v))
          throw new BenchArgsError(`--load-client takes ${LOAD_CLIENTS.join(' or ')}`);
        a.loadClient = v as LoadClient;
        break;
      }
      case '--matrix':
        a.matrix = true;
        break;
      case '--no-floor':
        a.floor = false;
        break;
      case '--keep-work-dir':
        a.keepWorkDir = true;
        break;
      case '--against': {
        const v = val();
        if (v !== 'etcd') throw new BenchArgsError('--against takes etcd');
        a.againstEtcd = true;
        break;
      }
      case '--mix': {
        const m = /^(\d+):(\d+)$/.exec(val() ?? '');
        if (m === null || Number(m[1]) + Number(m[2]) === 0) throw new BenchArgsError('--mix takes R:W, e.g. 90:10');
        a.readFraction = Number(m[1]) / (Number(m[1]) + Number(m[2]));
        break;
      }
      case '--read-mode': {
        const modes = (val() ?? '').split(',');
        for (const m of modes)
          if (m !== 'lease' && m !== 'readindex' && m !== 'stale')
            throw new BenchArgsError(`--read-mode: unknown mode '${m}'`);
        a.readModes = modes as BenchArgs['readModes'];
        break;
      }
      case '--scenario': {
        const s = (val() ?? '').split(',');
        for (const x of s)
          if (!(SCENARIOS as readonly string[]).includes(x)) throw new BenchArgsError(`--scenario: unknown '${x}'`);
        a.scenarios = s as Scenario[];
        break;
      }
      default: {
        const guess = flag?.startsWith('-') === true ? nearest(flag.replace(/^-+/, ''), FLAGS) : undefined;
        throw new BenchArgsError(
          `unknown option '${flag ?? ''}'${guess === undefined ? '' : `; did you mean --${guess}?`}`,
        );
      }
    }
  }
  return a;
}
