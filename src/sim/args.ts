// Command-line arguments of `npm run sim`, validated once with clear errors.
import { SIM_MUTANTS } from './scenario.ts';
import type { SimMutant } from './scenario.ts';
import { nearest } from '../util/suggest.ts';

export interface SimArgs {
  /** How many seeds to run: firstSeed, firstSeed + 1, ... */
  readonly seeds: number;
  readonly firstSeed: number;
  /** Cluster size; null = per seed, cycling 3, 5, 7 (seed % 3). */
  readonly nodes: 3 | 5 | 7 | null;
  readonly mutant: SimMutant | null;
  readonly verbose: boolean;
  readonly workers: number;
  /** Write the (single) seed's client history here as JSON lines. */
  readonly historyFile: string | null;
}

export class ArgsError extends Error {
  override readonly name = 'ArgsError';
}

export const USAGE =
  'usage: npm run sim -- [--seeds N] [--seed S] [--nodes 3|5|7] [--mutant NAME] [--verbose] [--workers K] [--history FILE]\n' +
  '  --seeds N     run N seeds (default 1), starting at --seed (default 1)\n' +
  '  --nodes       cluster size; by default each seed uses 3, 5 or 7 nodes (seed % 3)\n' +
  `  --mutant      one of: ${SIM_MUTANTS.join(', ')}\n` +
  "  --verbose     stream every seed's event trace (use with one seed)\n" +
  '  --workers K   worker threads (default: 2 for 100+ seeds, else 1)\n' +
  '  --history F   write the client history of the (single) seed to F as JSON lines';

const MAX_SEEDS = 10_000_000;
const FLAGS = ['seeds', 'seed', 'nodes', 'mutant', 'verbose', 'workers', 'history', 'help'];

function int(flag: string, v: string | undefined, lo: number, hi: number): number {
  if (v === undefined || !/^\d+$/.test(v))
    throw new ArgsError(`${flag} needs an integer, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < lo || n > hi) throw new ArgsError(`${flag} must be in [${lo}, ${hi}], got ${v}`);
  return n;
}

export function parseSimArgs(argv: readonly string[]): SimArgs {
  let seeds: number | null = null;
  let firstSeed = 1;
  let nodes: SimArgs['nodes'] = null;
  let mutant: SimMutant | null = null;
  let verbose = false;
  let workers: number | null = null;
  let historyFile: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--seeds':
        seeds = int('--seeds', value(), 1, MAX_SEEDS);
        break;
      case '--seed':
        firstSeed = int('--seed', value(), 0, Number.MAX_SAFE_INTEGER - MAX_SEEDS);
        break;
      case '--nodes': {
        const n = int('--nodes', value(), 3, 7);
        if (n !== 3 && n !== 5 && n !== 7) throw new ArgsError(`--nodes must be 3, 5 or 7, got ${n}`);
        nodes = n;
        break;
      }
      case '--mutant': {
        const m = value();
        if (m === undefined || !(SIM_MUTANTS as readonly string[]).includes(m)) {
          throw new ArgsError(
            `--mutant must be one of ${SIM_MUTANTS.join(', ')}; got ${m === undefined ? 'nothing' : JSON.stringify(m)}`,
          );
        }
        mutant = m as SimMutant;
        break;
      }
      case '--verbose':
        verbose = true;
        break;
      case '--workers':
        workers = int('--workers', value(), 1, 64);
        break;
      case '--history': {
        const f = value();
        if (f === undefined || f.length === 0) throw new ArgsError('--history needs a file name');
        historyFile = f;
        break;
      }
      case '--help':
      case '-h':
        throw new ArgsError('help');
      default: {
        const guess = flag.startsWith('-') ? nearest(flag.replace(/^-+/, ''), FLAGS) : undefined;
        throw new ArgsError(
          `unknown argument ${JSON.stringify(a)}${guess === undefined ? '' : `; did you mean --${guess}?`}`,
        );
      }
    }
  }
  const n = seeds ?? 1;
  if (historyFile !== null && n !== 1) throw new ArgsError('--history works with a single seed (--seeds 1)');
  return { seeds: n, firstSeed, nodes, mutant, verbose, workers: workers ?? (n >= 100 ? 2 : 1), historyFile };
}

/** The cluster size a seed runs with. */
export function nodesForSeed(args: Pick<SimArgs, 'nodes'>, seed: number): 3 | 5 | 7 {
  return args.nodes ?? ([3, 5, 7] as const)[seed % 3]!;
}

/** The command that replays one seed exactly. */
export function replayCommand(seed: number, nodes: number, mutant: SimMutant | null): string {
  return `npm run sim -- --seed ${seed} --nodes ${nodes}${mutant !== null ? ` --mutant ${mutant}` : ''} --verbose`;
}
