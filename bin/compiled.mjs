// Whether the compiled build in dist/ may run instead of the TypeScript sources (bin/leasekv.mjs),
// and the fingerprint that decides it (written by scripts/build.mjs). dist/ is used only when its
// stamp lists the sources it was compiled from with the same content: after an edit, a `git pull`
// or a checkout the sources run through tsx, so a build never goes stale unnoticed. In the packed
// package (`npm pack` builds dist/ first) the stamp matches the shipped sources.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const STAMP = 'build-stamp.json';
/** The stamp's format; a stamp of another format is not trusted. */
export const STAMP_FORMAT = 1;

/** SHA-256 over each source's path (relative to src/) and bytes, in the given order; null if one is missing. */
export function sourcesHash(files, root = ROOT) {
  const h = createHash('sha256');
  for (const rel of files) {
    let bytes;
    try {
      bytes = readFileSync(join(root, 'src', rel));
    } catch {
      return null;
    }
    h.update(`${rel}\0${bytes.length}\0`);
    h.update(bytes);
  }
  return h.digest('hex');
}

/** The stamp in dist/, or null when there is none or it cannot be read. */
export function readStamp(root = ROOT) {
  try {
    const s = JSON.parse(readFileSync(join(root, 'dist', STAMP), 'utf8'));
    return s.format === STAMP_FORMAT && Array.isArray(s.files) && typeof s.hash === 'string' ? s : null;
  } catch {
    return null;
  }
}

/** Why dist/ cannot run these sources ('no build', 'built from other sources'), or null when it can. */
export function compiledStale(root = ROOT) {
  const stamp = readStamp(root);
  if (stamp === null) return 'no build';
  return sourcesHash(stamp.files, root) === stamp.hash ? null : 'built from other sources';
}
