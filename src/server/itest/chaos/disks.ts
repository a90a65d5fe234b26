// Disks that can fill up, for the chaos run's `disk` fault (docs/chaos.md): each member's data dir
// is a size-limited tmpfs mounted inside a mount namespace of its own. A holder process
// (`unshare -m` with private propagation, then `sleep`) owns the namespace and keeps the tmpfs
// alive across the member's restarts; the member runs in it through `nsenter`. Nothing is mounted
// in the machine's own namespace (other test runs share this machine): there the data dir stays
// an empty folder. The run reaches the files through /proc/<holder>/root, which resolves paths in
// the holder's namespace. Killing the holder and its member frees the tmpfs with the namespace.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, cpSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** The tmpfs of each member: room for a chaos run's log (segments are sparse) and a few snapshots. */
export const DISK_BYTES = 128 * 1024 * 1024;
const FILLER = 'chaos-disk-filler';
const READY_TIMEOUT_MS = 10_000;

/** Why private disks cannot be made here (not root, no unshare), or null when they can. */
export function privateDisksUnavailable(): string | null {
  if (process.platform !== 'linux') return 'needs Linux mount namespaces';
  if (process.getuid?.() !== 0) return 'needs root (unshare -m, mount -t tmpfs in a private namespace)';
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'true'], { stdio: 'ignore', timeout: 5000 });
  return r.status === 0 ? null : `unshare -m failed here (${r.error?.message ?? `exit ${r.status}`})`;
}

const holders = new Set<ChildProcess>();
process.on('exit', () => {
  for (const h of holders) h.kill('SIGKILL');
});

export class PrivateDisks {
  private readonly held = new Map<string, { proc: ChildProcess; dir: string }>();

  /** Mounts a DISK_BYTES tmpfs on each data dir, each in its own namespace. */
  static async make(dataDirs: ReadonlyMap<string, string>): Promise<PrivateDisks> {
    const d = new PrivateDisks();
    try {
      await Promise.all([...dataDirs].map(([id, dir]) => d.hold(id, dir)));
      return d;
    } catch (e) {
      d.close();
      throw e;
    }
  }

  private async hold(id: string, dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true });
    const script = 'mount -t tmpfs -o "size=$1" tmpfs "$0" && echo ready && exec sleep 86400';
    const proc = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, dir, String(DISK_BYTES)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    holders.add(proc);
    proc.once('exit', () => holders.delete(proc));
    let err = '';
    proc.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${id}: no private tmpfs after ${READY_TIMEOUT_MS} ms`)),
        READY_TIMEOUT_MS,
      );
      proc.stdout?.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${id}: mounting its private tmpfs failed (exit ${code}): ${err.trim()}`));
      });
    });
    this.held.set(id, { proc, dir });
  }

  private get(id: string): { proc: ChildProcess; dir: string } {
    const h = this.held.get(id);
    if (h === undefined) throw new Error(`${id} has no private disk`);
    return h;
  }

  /** The command prefix that runs a member in its namespace (ProcessCluster's launcher). */
  launcher(id: string): string[] | undefined {
    const h = this.held.get(id);
    return h === undefined ? undefined : ['nsenter', '-t', String(h.proc.pid), '-m', '--'];
  }

  /** `id`'s data dir as this process reaches it (through the holder's root, in its namespace). */
  path(id: string): string {
    const h = this.get(id);
    return `/proc/${h.proc.pid}/root${h.dir}`;
  }

  /** Fills `id`'s disk to the last byte (1 MiB writes, then smaller): the next write fails ENOSPC. */
  fill(id: string): number {
    const fd = openSync(join(this.path(id), FILLER), 'a');
    let bytes = 0;
    try {
      for (let chunk = 1 << 20; chunk >= 512;) {
        try {
          bytes += writeSync(fd, Buffer.alloc(chunk, 0x5a));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
          chunk >>= 1;
        }
        if (bytes > 2 * DISK_BYTES) throw new Error(`${id}: wrote ${bytes} bytes and the disk is not full`);
      }
    } finally {
      closeSync(fd);
    }
    return bytes;
  }

  /** Frees what fill() took. */
  free(id: string): void {
    try {
      unlinkSync(join(this.path(id), FILLER));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  /** Copies every disk's files to `${dir}-disk` beside its (empty) mount point, for a post-mortem. */
  copyOut(): void {
    for (const [id, h] of this.held) {
      try {
        cpSync(this.path(id), `${h.dir}-disk`, { recursive: true });
      } catch {
        // the holder is gone: nothing to keep
      }
    }
  }

  /** Kills the holders (the namespaces, and their tmpfs, go with their last process). */
  close(): void {
    for (const { proc } of this.held.values()) proc.kill('SIGKILL');
    this.held.clear();
  }
}
