// Worker-thread entry for runSeeds: runs its share of seeds and posts one summary per seed.
import { parentPort, workerData } from 'node:worker_threads';
import type { BatchJob } from './pool.ts';
import { summarize } from './pool.ts';

const job = workerData as BatchJob;
for (const seed of job.seeds) parentPort!.postMessage(summarize(job, seed));
