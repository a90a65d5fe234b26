// Folders of admin sockets (admin-server.ts) left behind by nodes that did not stop cleanly (kill -9,
// the OOM killer, a power cut): a clean stop removes its own folder, so without this every such stop
// left one more `leasekv-api-*` folder in the temp directory for good. A starting node removes the
// ones that are provably dead: owned by this user, older than a minute, and whose socket nobody
// answers on (a live node's socket accepts; a folder without a socket is a crash between mkdtemp and
// listen). Anything else — another user's folder, an unexpected answer, a slow socket — is left alone.
import { lstat, readdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';

export const ADMIN_DIR_PREFIX = 'leasekv-api-';
/** Folders looked at per start: the sweep's cost stays bounded however many are there. */
export const STALE_SWEEP_MAX_DIRS = 256;
/** Younger folders may belong to a node that is starting right now. */
export const STALE_MIN_AGE_MS = 60_000;
const PROBE_TIMEOUT_MS = 1000;

/** Whether someone accepts on the Unix socket at `path`: true, false (nobody: refused or gone), or null (unsure). */
function probe(path: string): Promise<boolean | null> {
  return new Promise((resolve) => {
    const s = connect(path);
    const timer = setTimeout(() => {
      s.destroy();
      resolve(null);
    }, PROBE_TIMEOUT_MS);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve(true);
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? false : null);
    });
  });
}

/** Removes dead admin-socket folders under `tmp`; returns how many. Never throws. */
export async function sweepStaleAdminDirs(tmp: string, nowMs: number): Promise<number> {
  let removed = 0;
  try {
    const uid = process.getuid?.();
    const names = (await readdir(tmp)).filter((n) => n.startsWith(ADMIN_DIR_PREFIX)).slice(0, STALE_SWEEP_MAX_DIRS);
    for (const name of names) {
      const dir = join(tmp, name);
      try {
        const st = await lstat(dir);
        if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
        if (nowMs - st.mtimeMs < STALE_MIN_AGE_MS) continue;
        if ((await probe(join(dir, 'admin.sock'))) !== false) continue;
        await rm(dir, { recursive: true, force: true });
        removed++;
      } catch {
        // Gone meanwhile (another node swept it) or unreadable: not ours to judge.
      }
    }
  } catch {
    // No readable temp directory: nothing to sweep.
  }
  return removed;
}
