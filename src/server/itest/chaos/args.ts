// Command-line arguments of `npm run chaos` (docs/chaos.md), validated once with clear errors.
import { nearest } from '../../../util/suggest.ts';

/** The faults the nemesis picks from (nemesis.ts says what each one does). */
export const NEMESES = [
  'kill',
  'restart',
  'pause',
  'partition',
  'delay',
  'member',
  'transfer',
  'combo',
  'disk',
  'corrupt',
  'clock',
  'upgrade',
] as const;
export type Nemesis = (typeof NEMESES)[number];

export interface ChaosArgs {
  /** Seeds firstSeed, firstSeed + 1, ...: one cluster run each. */
  readonly seeds: number;
  readonly firstSeed: number;
  /** How long the clients and the nemesis run, per seed. */
  readonly durationS: number;
  readonly nodes: 3 | 5;
  readonly clients: number;
  readonly nemeses: readonly Nemesis[];
  /** Results go to outDir/seed-<S>/ (history.jsonl, events.jsonl, summary.json, node logs). */
  readonly outDir: string;
  /** Time budget of the linearizability check, per seed. */
  readonly checkTimeoutS: number;
  /** Keep the nodes' data dirs after a clean run (they are always kept after a failing one). */
  readonly keepData: boolean;
  /** Stop at the first seed with a finding. */
  readonly stopOnFinding: boolean;
}

export class ChaosArgsError extends Error {
  override readonly name = 'ChaosArgsError';
}

export const USAGE =
  'usage: npm run chaos -- [--seed S] [--seeds N] [--duration-s D] [--nodes 3|5] [--clients C]\n' +
  '                        [--nemesis LIST] [--out DIR] [--check-timeout-s T] [--keep-data] [--stop-on-finding]\n' +
  '  --seed S            first seed (default 1); --seeds N runs N seeds one after another (default 1)\n' +
  '  --duration-s D      workload and faults per seed, 5..3600 (default 60)\n' +
  '  --nodes             initial voters, 3 or 5 (default 3); spares up to 9 members are added by `member`\n' +
  '  --clients C         concurrent register/txn clients, 1..16 (default 5), plus one set writer\n' +
  `  --nemesis LIST      comma-separated, from: ${NEMESES.join(',')}\n` +
  '                      (default all; disk needs root: without it, all but disk)\n' +
  '  --out DIR           results folder (default tmp/chaos/<date>); one seed-<S>/ folder per seed\n' +
  '  --check-timeout-s T linearizability check budget per seed, 5..3600 (default 120)\n' +
  'Exit code: 0 clean, 1 a finding (violation, lost write, crash, stuck), 2 usage, 3 only undecided checks.';

const FLAGS = [
  'seed',
  'seeds',
  'duration-s',
  'nodes',
  'clients',
  'nemesis',
  'out',
  'check-timeout-s',
  'keep-data',
  'stop-on-finding',
  'help',
];

function int(flag: string, v: string | undefined, lo: number, hi: number): number {
  if (v === undefined || !/^\d+$/.test(v))
    throw new ChaosArgsError(`${flag} needs an integer, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < lo || n > hi)
    throw new ChaosArgsError(`${flag} must be in [${lo}, ${hi}], got ${v}`);
  return n;
}

function nemesisList(v: string | undefined): Nemesis[] {
  const names = (v ?? '').split(',').filter((s) => s !== '');
  if (names.length === 0) throw new ChaosArgsError(`--nemesis needs a list from ${NEMESES.join(',')}`);
  for (const n of names) {
    if (!(NEMESES as readonly string[]).includes(n)) {
      const guess = nearest(n, NEMESES);
      throw new ChaosArgsError(
        `unknown nemesis ${JSON.stringify(n)}${guess === undefined ? '' : `; did you mean ${guess}?`}`,
      );
    }
  }
  return [...new Set(names)] as Nemesis[];
}

export function parseChaosArgs(argv: readonly string[], now = new Date()): ChaosArgs {
  const o = {
    seeds: 1,
    firstSeed: 1,
    durationS: 60,
    nodes: 3 as 3 | 5,
    clients: 5,
    nemeses: [...NEMESES] as Nemesis[],
    outDir: `tmp/chaos/${now.toISOString().replace(/[:.]/g, '-')}`,
    checkTimeoutS: 120,
    keepData: false,
    stopOnFinding: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const eq = a.indexOf('=');
    const flag = eq >= 0 ? a.slice(0, eq) : a;
    const value = (): string | undefined => (eq >= 0 ? a.slice(eq + 1) : argv[++i]);
    switch (flag) {
      case '--seed':
        o.firstSeed = int(flag, value(), 0, 1_000_000_000);
        break;
      case '--seeds':
        o.seeds = int(flag, value(), 1, 10_000);
        break;
      case '--duration-s':
        o.durationS = int(flag, value(), 5, 3600);
        break;
      case '--nodes': {
        const n = int(flag, value(), 3, 5);
        if (n !== 3 && n !== 5) throw new ChaosArgsError(`--nodes must be 3 or 5, got ${n}`);
        o.nodes = n;
        break;
      }
      case '--clients':
        o.clients = int(flag, value(), 1, 16);
        break;
      case '--nemesis':
        o.nemeses = nemesisList(value());
        break;
      case '--out': {
        const d = value();
        if (d === undefined || d === '') throw new ChaosArgsError('--out needs a folder');
        o.outDir = d;
        break;
      }
      case '--check-timeout-s':
        o.checkTimeoutS = int(flag, value(), 5, 3600);
        break;
      case '--keep-data':
        o.keepData = true;
        break;
      case '--stop-on-finding':
        o.stopOnFinding = true;
        break;
      case '--help':
      case '-h':
        throw new ChaosArgsError('help');
      default: {
        const guess = flag.startsWith('-') ? nearest(flag.replace(/^-+/, ''), FLAGS) : undefined;
        throw new ChaosArgsError(
          `unknown argument ${JSON.stringify(a)}${guess === undefined ? '' : `; did you mean --${guess}?`}`,
        );
      }
    }
  }
  return o;
}
