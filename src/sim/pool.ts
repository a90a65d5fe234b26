// Runs many seeds, on worker threads when asked (seeds are independent; each is deterministic, so
// the split across workers changes nothing but the wall-clock time).
import { Worker } from 'node:worker_threads';
import type { SimMutant } from './scenario.ts';
import { nodesForSeed } from './args.ts';
import { simulateSeed } from './run.ts';

/**
 * Worker bootstrap: a worker thread does not inherit the tsx loader that `node --import tsx` put on
 * the main thread (Node 20), so it registers tsx itself before loading the .ts entry.
 */
const WORKER_BOOT = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}); })`;

/** What a runner reports per seed (the trace only when the seed failed). */
export interface SeedSummary {
  readonly seed: number;
  readonly nodes: number;
  readonly violations: readonly string[];
  readonly trace: readonly string[];
  readonly scenario: string;
  readonly events: number;
  readonly linearizability: string;
}

export interface BatchJob {
  readonly seeds: readonly number[];
  readonly nodes: 3 | 5 | 7 | null;
  readonly mutant: SimMutant | null;
}

export function summarize(job: BatchJob, seed: number): SeedSummary {
  const nodes = nodesForSeed(job, seed);
  let r: ReturnType<typeof simulateSeed>;
  try {
    r = simulateSeed({ seed, nodes, mutant: job.mutant });
  } catch (e) {
    // A bug in the simulator (or an assertion in the code it runs): this seed fails, with the replay command.
    const what = e instanceof Error ? (e.stack ?? e.message) : String(e);
    return {
      seed,
      nodes,
      violations: [`simulator error: ${what}`],
      trace: [],
      scenario: '',
      events: 0,
      linearizability: 'skipped',
    };
  }
  const failed = r.violations.length > 0;
  return {
    seed,
    nodes,
    violations: r.violations,
    trace: failed ? r.trace : [],
    scenario: r.scenario,
    events: r.events,
    linearizability: r.linearizability,
  };
}

/** Runs the seeds on `workers` threads (1 = this thread); calls onResult as each seed finishes. */
export async function runSeeds(job: BatchJob, workers: number, onResult: (s: SeedSummary) => void): Promise<void> {
  if (workers <= 1 || job.seeds.length < 2) {
    for (const seed of job.seeds) onResult(summarize(job, seed));
    return;
  }
  const count = Math.min(workers, job.seeds.length);
  const shares: number[][] = Array.from({ length: count }, () => []);
  job.seeds.forEach((s, i) => shares[i % count]!.push(s));
  await Promise.all(
    shares.map(
      (seeds) =>
        new Promise<void>((resolve, reject) => {
          const w = new Worker(WORKER_BOOT, { eval: true, workerData: { ...job, seeds } satisfies BatchJob });
          w.on('message', (m: SeedSummary) => onResult(m));
          w.on('error', reject);
          w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sim worker exited with code ${code}`))));
        }),
    ),
  );
}
