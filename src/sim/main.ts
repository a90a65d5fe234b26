// `npm run sim -- --seeds N [--seed S] [--nodes 3|5|7] [--mutant NAME] [--verbose]`
// Runs seeds of the deterministic cluster simulator. A failing seed prints its violation, the
// command that replays it, and the last events of its trace. The LAST line is exactly
// `N seeds, V violations` (V = seeds with a violation); exit 0 iff V = 0.
import { writeFileSync } from 'node:fs';
import { formatHistoryJsonl } from '../check/history.ts';
import { ArgsError, USAGE, nodesForSeed, parseSimArgs, replayCommand } from './args.ts';
import type { SimArgs } from './args.ts';
import { runSeeds } from './pool.ts';
import type { SeedSummary } from './pool.ts';
import { simulateSeed } from './run.ts';

/** Full traces printed for at most this many failing seeds (the rest get one line each). */
const MAX_TRACES = 1;
const MAX_LISTED = 20;

export async function main(argv: readonly string[]): Promise<number> {
  let args: SimArgs;
  try {
    args = parseSimArgs(argv);
  } catch (e) {
    if (!(e instanceof ArgsError)) throw e;
    if (e.message === 'help') {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    process.stderr.write(`sim: ${e.message}\n`);
    process.stderr.write(USAGE + '\n');
    return 2;
  }
  if (args.verbose || args.historyFile !== null) return runVerbose(args);
  const seeds = Array.from({ length: args.seeds }, (_, i) => args.firstSeed + i);
  const progress = new Progress(args.seeds);
  let failed = 0;
  let undecided = 0;
  const startMs = performance.now();
  await runSeeds({ seeds, nodes: args.nodes, mutant: args.mutant }, args.workers, (s) => {
    if (s.linearizability === 'unknown') undecided++;
    if (s.violations.length > 0) {
      failed++;
      progress.clear();
      reportFailure(s, args, failed);
    }
    progress.tick(failed);
  });
  progress.clear();
  const secs = ((performance.now() - startMs) / 1000).toFixed(1);
  process.stdout.write(
    `(${secs}s wall, ${args.workers} worker(s); linearizability undecided within budget: ${undecided})\n`,
  );
  process.stdout.write(`${args.seeds} seeds, ${failed} violations\n`);
  return failed === 0 ? 0 : 1;
}

function reportFailure(s: SeedSummary, args: SimArgs, nth: number): void {
  if (nth > MAX_LISTED) return;
  const out: string[] = [`seed ${s.seed} (${s.nodes} nodes) FAILED: ${s.violations[0] ?? ''}`];
  for (const v of s.violations.slice(1)) out.push(`  also: ${v}`);
  out.push(`  replay: ${replayCommand(s.seed, s.nodes, args.mutant)}`);
  if (nth <= MAX_TRACES) {
    out.push(`  scenario: ${s.scenario}`);
    out.push(`  last ${s.trace.length} events (true time, node, term, role, lease, what):`);
    for (const l of s.trace) out.push('    ' + l);
  }
  if (nth === MAX_LISTED) out.push(`  (further failing seeds are counted, not listed)`);
  process.stdout.write(out.join('\n') + '\n');
}

/** One seed (or several) with the whole trace streamed. */
function runVerbose(args: SimArgs): number {
  let failed = 0;
  for (let i = 0; i < args.seeds; i++) {
    const seed = args.firstSeed + i;
    const nodes = nodesForSeed(args, seed);
    const r = simulateSeed({
      seed,
      nodes,
      mutant: args.mutant,
      verbose: args.verbose ? (l) => process.stdout.write(l + '\n') : undefined,
    });
    if (args.historyFile !== null) writeFileSync(args.historyFile, formatHistoryJsonl(r.history));
    process.stdout.write(
      `seed ${seed}: ${r.events} events, ${r.history.length} client ops, linearizability ${r.linearizability}\n`,
    );
    if (r.violations.length > 0) {
      failed++;
      for (const v of r.violations) process.stdout.write(`VIOLATION: ${v}\n`);
      process.stdout.write(`replay: ${replayCommand(seed, nodes, args.mutant)}\n`);
    }
  }
  process.stdout.write(`${args.seeds} seeds, ${failed} violations\n`);
  return failed === 0 ? 0 : 1;
}

/** A one-line progress bar on stderr, only when stderr is a terminal. */
class Progress {
  private done = 0;
  private lastDrawMs = 0;
  private readonly startMs = performance.now();
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly total: number) {}

  tick(failed: number): void {
    this.done++;
    if (!this.tty) return;
    const now = performance.now();
    if (now - this.lastDrawMs < 100 && this.done < this.total) return;
    this.lastDrawMs = now;
    const width = 30;
    const filled = Math.round((this.done / this.total) * width);
    const rate = this.done / Math.max(1e-3, (now - this.startMs) / 1000);
    const etaS = Math.round((this.total - this.done) / Math.max(rate, 1e-3));
    process.stderr.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${this.total} seeds, ${failed} violations, ${rate.toFixed(0)}/s, ETA ${etaS}s `,
    );
  }

  clear(): void {
    if (this.tty) process.stderr.write('\r\x1b[K');
  }
}

process.exitCode = await main(process.argv.slice(2));
