// One process per data dir (issue 12, item 2): an exclusive lock file in the data dir naming its
// holder (pid, host, boot id, process start time, wall-clock start). Two processes on one data dir
// would each append to the same WAL and vote on their own: a lost vote or a lost write.
//
// Acquire:
//   1. open(LOCK, O_CREAT|O_EXCL) — atomic: of two starters on a dir without a lock, one wins.
//   2. LOCK exists: read its holder. Held when the holder is this host, the same boot, its pid is
//      alive and (where the OS says) that pid started at the recorded time. Then refuse.
//   3. Stale (pid gone after kill -9, a reboot since — other boot id —, or the pid reused by another
//      process — other start time): take it over under a takeover mutex, LOCK.takeover, created with
//      O_EXCL too. Inside it the holder is read and judged again, and the new lock replaces the old
//      by rename (LOCK never disappears, so step 1 cannot succeed meanwhile). Two starters taking over
//      the same stale lock: one gets the mutex; the other waits for it to go, re-reads LOCK, finds a
//      live holder and refuses.
//   A process killed inside the takeover (between two syscalls) leaves LOCK.takeover behind, with
//   its own holder record in it. The next starter judges that record like a lock: a dead writer's
//   mutex is removed (reapTakeover), under a third O_EXCL file named after that record, so that of
//   several starters one removes it and none removes the fresh mutex a winner created meanwhile. An
//   unreadable mutex (a starter between create and write) or a live writer's is waited for.
//
// A lock on another host (a data dir on shared storage) cannot be judged from here: refused.
// Released on a clean stop only if LOCK still holds our own record.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, constants } from 'node:fs';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = 'LOCK';
const TAKEOVER_FILE = 'LOCK.takeover';
const TAKEOVER_WAIT_MS = 2000;
const UNREADABLE_WAIT_MS = 500;

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** Kernel boot id (Linux), '' where unknown: another boot id means the holder died in a reboot. */
  readonly bootId: string;
  /** The holder process's start time in clock ticks since boot (Linux), '' where unknown: guards against pid reuse. */
  readonly procStart: string;
  /** Wall-clock time the lock was taken (ISO 8601), for people. */
  readonly since: string;
}

/** What the lock needs from the operating system; injected so tests can stage dead and reused pids. */
export interface LockProbe {
  readonly pid: number;
  readonly host: string;
  readonly bootId: string;
  isAlive(pid: number): boolean;
  /** '' when unknown (no /proc). */
  procStart(pid: number): string;
  nowIso(): string;
}

/** The data dir is in use by a live process (or its lock cannot be judged). An operating error. */
export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
  constructor(
    readonly dir: string,
    readonly holder: LockHolder | null,
    detail: string,
  ) {
    super(`data dir ${dir} is in use: ${detail}`);
  }
}

export interface DirLock {
  readonly path: string;
  readonly holder: LockHolder;
  /** The stale holder this lock replaced, if any (for the log). */
  readonly tookOverFrom: LockHolder | null;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void;
}

function readProc(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Linux: field 22 of /proc/PID/stat (after the command name, which may hold spaces and parentheses). */
function linuxProcStart(pid: number): string {
  const stat = readProc(`/proc/${pid}/stat`);
  const close = stat.lastIndexOf(')');
  if (close < 0) return '';
  return stat.slice(close + 2).split(' ')[19] ?? '';
}

export const realProbe: LockProbe = {
  pid: process.pid,
  host: hostname(),
  bootId: readProc('/proc/sys/kernel/random/boot_id'),
  isAlive(pid) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      // EPERM: it exists but belongs to another user.
      return (e as NodeJS.ErrnoException).code === 'EPERM';
    }
  },
  procStart: linuxProcStart,
  nowIso: () => new Date().toISOString(),
};

export function describeHolder(h: LockHolder): string {
  return `pid ${h.pid} on host ${h.host} since ${h.since}`;
}

function parseHolder(text: string): LockHolder | null {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (typeof v['pid'] !== 'number' || !Number.isInteger(v['pid']) || typeof v['host'] !== 'string') return null;
    const str = (k: string): string => (typeof v[k] === 'string' ? (v[k] as string) : '');
    return { pid: v['pid'], host: v['host'], bootId: str('bootId'), procStart: str('procStart'), since: str('since') };
  } catch {
    return null;
  }
}

function readHolder(path: string): { holder: LockHolder | null; text: string } | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  return { holder: parseHolder(text), text };
}

/** Why the holder is no longer running, or null when it is (or may be). */
export function staleReason(h: LockHolder, probe: LockProbe): string | null {
  if (h.host !== probe.host) return null;
  if (h.bootId !== '' && probe.bootId !== '' && h.bootId !== probe.bootId) return 'the host rebooted since';
  if (!probe.isAlive(h.pid)) return `pid ${h.pid} is not running`;
  if (h.procStart !== '') {
    const now = probe.procStart(h.pid);
    if (now !== '' && now !== h.procStart) return `pid ${h.pid} now belongs to another process`;
  }
  return null;
}

/** Writes `text` to `path` (which must not exist) and fsyncs it. Throws EEXIST if it does. */
function createExclusive(path: string, text: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function isEexist(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === 'EEXIST';
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Takes the lock of `dir` (which must exist) or throws DataDirLockedError. */
export function acquireDirLock(dir: string, probe: LockProbe = realProbe): DirLock {
  const path = join(dir, LOCK_FILE);
  const me: LockHolder = {
    pid: probe.pid,
    host: probe.host,
    bootId: probe.bootId,
    procStart: probe.procStart(probe.pid),
    since: probe.nowIso(),
  };
  const text = `${JSON.stringify(me)}\n`;
  const made = (tookOverFrom: LockHolder | null): DirLock => {
    fsyncDir(dir);
    return { path, holder: me, tookOverFrom, release: () => releaseIfOurs(path, text) };
  };
  try {
    createExclusive(path, text);
    return made(null);
  } catch (e) {
    if (!isEexist(e)) throw e;
  }
  const first = judge(dir, path, probe);
  const takeover = join(dir, TAKEOVER_FILE);
  // Monotonic: a wall clock stepped back (NTP, `date -s`) must not stretch the wait (chaos `clock`).
  const deadline = performance.now() + TAKEOVER_WAIT_MS;
  for (;;) {
    try {
      createExclusive(takeover, text);
      break;
    } catch (e) {
      if (!isEexist(e)) throw e;
    }
    if (reapTakeover(dir, takeover, probe)) continue;
    if (performance.now() > deadline) {
      throw new DataDirLockedError(
        dir,
        first,
        `another process is taking over its stale lock (${takeover} exists); if none is starting, delete ${takeover} and start again`,
      );
    }
    sleepSync(20);
  }
  try {
    // Judged again under the mutex: another starter may have taken the lock over meanwhile.
    const stale = judge(dir, path, probe);
    const tmp = join(dir, `${LOCK_FILE}.${probe.pid}.tmp`);
    try {
      unlinkSync(tmp);
    } catch {
      // not there
    }
    createExclusive(tmp, text);
    renameSync(tmp, path);
    return made(stale);
  } finally {
    unlinkSync(takeover);
  }
}

/**
 * Removes the takeover mutex if its writer (the record in it) is a dead process on this host; true
 * if it did. The removal runs under `<mutex>.<digest of the record>.reap`, created O_EXCL: while a
 * starter holds it, that record can only be removed by that starter (its writer is dead and a
 * record is never written twice: it holds the pid's start time and the wall clock), so reading it
 * and unlinking it do not race another starter's fresh mutex.
 */
function reapTakeover(dir: string, takeover: string, probe: LockProbe): boolean {
  const cur = readHolder(takeover);
  const h = cur?.holder ?? null;
  if (cur === null || h === null || h.host !== probe.host || staleReason(h, probe) === null) return false;
  const reap = `${takeover}.${createHash('sha256').update(cur.text).digest('hex').slice(0, 16)}.reap`;
  try {
    createExclusive(reap, '');
  } catch (e) {
    if (isEexist(e)) return false; // another starter is removing it
    throw e;
  }
  try {
    if (readHolder(takeover)?.text !== cur.text) return false;
    unlinkSync(takeover);
    fsyncDir(dir);
    return true;
  } finally {
    unlinkSync(reap);
  }
}

/** Returns the stale holder (null if unreadable), or throws when LOCK is held; LOCK must exist. */
function judge(dir: string, path: string, probe: LockProbe): LockHolder | null {
  let cur = readHolder(path);
  // An empty or unreadable lock file: a starter that has just created it and not yet written it, or
  // one that crashed in between. Give a live one time to finish writing before calling it stale.
  for (let waited = 0; cur !== null && cur.holder === null && waited < UNREADABLE_WAIT_MS; waited += 50) {
    sleepSync(50);
    cur = readHolder(path);
  }
  // Released between our attempts, or never written: stale (the takeover writes a fresh one).
  if (cur === null || cur.holder === null) return null;
  const h = cur.holder;
  if (h.host !== probe.host) {
    throw new DataDirLockedError(
      dir,
      h,
      `locked by ${describeHolder(h)}, another host: if no process there uses it, delete ${path}`,
    );
  }
  const why = staleReason(h, probe);
  if (why === null)
    throw new DataDirLockedError(dir, h, `locked by ${describeHolder(h)} (lock file ${path}); stop that process first`);
  return h;
}

function releaseIfOurs(path: string, text: string): void {
  try {
    if (readFileSync(path, 'utf8') === text) unlinkSync(path);
  } catch {
    // already gone
  }
}
