// One real cluster at a time on this machine. The test runner runs test files in parallel
// processes (scripts/test.mjs, concurrency 2); two clusters of tsx-run nodes on a 2-core CI box
// would starve each other's timers and make elections flap. Each integration test file therefore
// holds this lock while its clusters run. mkdir is atomic; a lock whose owner process is gone is
// taken over, so a crashed test run cannot wedge the next one.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOCK_DIR = join(tmpdir(), 'leasekv-itest.lock');
const POLL_MS = 200;

/** undefined: no owner file yet (the owner is between mkdir and writing its pid). */
function ownerAlive(): boolean | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(LOCK_DIR, 'owner'), 'utf8'));
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface ClusterLock {
  release(): void;
}

/** Waits (at most maxWaitMs) until no other integration test file runs a cluster. */
export async function acquireClusterLock(maxWaitMs: number): Promise<ClusterLock> {
  const deadline = performance.now() + maxWaitMs;
  let ownerlessSinceMs: number | null = null;
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      writeFileSync(join(LOCK_DIR, 'owner'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    // A dead owner, or no owner file for seconds (its owner died right after mkdir): take over.
    const alive = ownerAlive();
    if (alive === undefined) ownerlessSinceMs ??= performance.now();
    else ownerlessSinceMs = null;
    if (alive === false || (ownerlessSinceMs !== null && performance.now() - ownerlessSinceMs > 5000)) {
      rmSync(LOCK_DIR, { recursive: true, force: true });
      ownerlessSinceMs = null;
      continue;
    }
    if (performance.now() > deadline) {
      throw new Error(`another integration test held ${LOCK_DIR} for more than ${maxWaitMs} ms`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    rmSync(LOCK_DIR, { recursive: true, force: true });
  };
  process.on('exit', release);
  return { release };
}
