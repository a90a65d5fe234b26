// The data-dir lock (issue 12 item 2): a live holder is refused with its pid, host and start time;
// a stale lock (dead pid, reboot, reused pid) is taken over; of several starters racing to take
// over one stale lock, exactly one wins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  acquireDirLock,
  DataDirLockedError,
  LOCK_FILE,
  realProbe,
  type LockHolder,
  type LockProbe,
} from './dir_lock.ts';

const CHILD = fileURLToPath(new URL('./dir_lock_child.ts', import.meta.url));

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A probe for a pretend process `pid` on this host, with the given live pids and start times. */
function probe(pid: number, alive: Map<number, string>, bootId = 'boot-a'): LockProbe {
  return {
    pid,
    host: realProbe.host,
    bootId,
    isAlive: (p) => alive.has(p),
    procStart: (p) => alive.get(p) ?? '',
    nowIso: () => '2026-01-01T00:00:00.000Z',
  };
}

function writeLock(dir: string, h: LockHolder): void {
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify(h));
}

function holderIn(dir: string): LockHolder {
  return JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as LockHolder;
}

test('lock: taken on a fresh dir, records the holder, released on release()', (t) => {
  const dir = tempDir(t);
  const lock = acquireDirLock(dir);
  const h = holderIn(dir);
  assert.equal(h.pid, process.pid);
  assert.equal(h.host, realProbe.host);
  assert.ok(h.since !== '');
  lock.release();
  assert.equal(existsSync(join(dir, LOCK_FILE)), false);
  lock.release(); // idempotent
});

test('lock: a live holder is refused, naming pid, host and since', (t) => {
  const dir = tempDir(t);
  const lock = acquireDirLock(dir);
  try {
    assert.throws(
      () => acquireDirLock(dir),
      (e: unknown) => {
        assert.ok(e instanceof DataDirLockedError);
        assert.match(e.message, new RegExp(`pid ${process.pid} on host .+ since \\d{4}-`));
        assert.equal(e.holder?.pid, process.pid);
        return true;
      },
    );
    assert.equal(holderIn(dir).pid, process.pid, 'the refused attempt left the lock alone');
  } finally {
    lock.release();
  }
});

test('lock: a dead pid (kill -9) is taken over', (t) => {
  const dir = tempDir(t);
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  assert.ok(typeof dead === 'number' && !realProbe.isAlive(dead));
  writeLock(dir, {
    pid: dead,
    host: realProbe.host,
    bootId: realProbe.bootId,
    procStart: '1',
    since: '2020-01-01T00:00:00.000Z',
  });
  const lock = acquireDirLock(dir);
  assert.equal(lock.tookOverFrom?.pid, dead);
  assert.equal(holderIn(dir).pid, process.pid);
  lock.release();
});

test('lock: a pid reused by another process, or a lock from before a reboot, is stale; a live one is not', (t) => {
  const dir = tempDir(t);
  const live = new Map([
    [100, 'start-1'],
    [200, 'start-9'],
  ]);
  // pid 100 is alive but started at another time than the one in the lock: reused.
  writeLock(dir, { pid: 100, host: realProbe.host, bootId: 'boot-a', procStart: 'start-0', since: 'x' });
  acquireDirLock(dir, probe(200, live)).release();
  // Another boot: whatever runs under that pid now is not the holder.
  writeLock(dir, { pid: 100, host: realProbe.host, bootId: 'boot-old', procStart: 'start-1', since: 'x' });
  acquireDirLock(dir, probe(200, live)).release();
  // Same boot, alive, same start time: held.
  writeLock(dir, { pid: 100, host: realProbe.host, bootId: 'boot-a', procStart: 'start-1', since: 'x' });
  assert.throws(() => acquireDirLock(dir, probe(200, live)), DataDirLockedError);
  // Another host cannot be judged from here: refused.
  writeLock(dir, { pid: 100, host: 'elsewhere', bootId: 'boot-a', procStart: '', since: 'x' });
  assert.throws(() => acquireDirLock(dir, probe(200, new Map())), /another host/);
});

test('lock: a takeover in progress elsewhere makes a starter wait, then refuse', (t) => {
  const dir = tempDir(t);
  writeLock(dir, { pid: 100, host: realProbe.host, bootId: 'boot-a', procStart: '', since: 'x' });
  writeFileSync(join(dir, 'LOCK.takeover'), '{}');
  assert.throws(() => acquireDirLock(dir, probe(200, new Map())), /taking over its stale lock/);
});

test('lock: a takeover mutex left by a starter killed inside the takeover is removed by the next start', (t) => {
  const dir = tempDir(t);
  writeLock(dir, { pid: 100, host: realProbe.host, bootId: 'boot-a', procStart: '', since: 'x' });
  // pid 150 was killed (kill -9) between creating LOCK.takeover and removing it.
  const dead: LockHolder = { pid: 150, host: realProbe.host, bootId: 'boot-a', procStart: 's', since: 'y' };
  writeFileSync(join(dir, 'LOCK.takeover'), `${JSON.stringify(dead)}\n`);
  const lock = acquireDirLock(dir, probe(200, new Map()));
  assert.equal(lock.tookOverFrom?.pid, 100);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f !== LOCK_FILE),
    [],
    'no LOCK.takeover (nor anything else) left behind',
  );
  lock.release();
  // The mutex of a starter that still runs is waited for, then refused, and left alone.
  writeLock(dir, { pid: 100, host: realProbe.host, bootId: 'boot-a', procStart: '', since: 'x' });
  writeFileSync(join(dir, 'LOCK.takeover'), `${JSON.stringify(dead)}\n`);
  assert.throws(() => acquireDirLock(dir, probe(200, new Map([[150, 's']]))), /taking over its stale lock/);
  assert.ok(existsSync(join(dir, 'LOCK.takeover')));
});

/** Resolves with the next line `child` prints (or 'timeout'). */
function nextLine(c: ChildProcessByStdio<Writable, Readable, null>, after: string): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const timer = setTimeout(() => resolve('timeout'), 30_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const lines = out.split('\n').filter((l) => l !== '' && l !== after);
      if (lines.length > 0) {
        clearTimeout(timer);
        c.stdout.off('data', onData);
        resolve(lines[0]!);
      }
    };
    c.stdout.on('data', onData);
  });
}

test('lock: four processes racing to take over one stale lock: exactly one wins', async (t) => {
  const dir = tempDir(t);
  for (let round = 0; round < 2; round++) {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid ?? 0;
    writeLock(dir, { pid: dead, host: realProbe.host, bootId: realProbe.bootId, procStart: '1', since: 'x' });
    const children = Array.from({ length: 4 }, () =>
      spawn(process.execPath, ['--import', 'tsx', CHILD, dir], { stdio: ['pipe', 'pipe', 'inherit'] }),
    );
    try {
      const ready = await Promise.all(children.map((c) => nextLine(c, '')));
      assert.deepEqual(ready, ['ready', 'ready', 'ready', 'ready']);
      const answers = children.map((c) => nextLine(c, 'ready'));
      for (const c of children) c.stdin.write('go\n');
      const got = await Promise.all(answers);
      assert.equal(got.filter((a) => a === 'ok').length, 1, got.join('\n'));
      assert.equal(got.filter((a) => a.startsWith('locked')).length, 3, got.join('\n'));
    } finally {
      for (const c of children) c.stdin.end();
      await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    }
  }
});

test('lock: the wait for a takeover in progress is measured on the monotonic clock (a wall clock stepped back does not stretch it)', (t) => {
  const dir = tempDir(t);
  writeLock(dir, { pid: 100, host: realProbe.host, bootId: 'boot-a', procStart: '', since: 'x' });
  writeFileSync(join(dir, 'LOCK.takeover'), '{}');
  const realNow = Date.now;
  let calls = 0;
  // NTP or an operator steps the wall clock back 30 s just after the wait starts.
  Date.now = () => realNow() - (calls++ > 0 ? 30_000 : 0);
  t.after(() => (Date.now = realNow));
  const t0 = performance.now();
  assert.throws(() => acquireDirLock(dir, probe(200, new Map())), /taking over its stale lock/);
  Date.now = realNow;
  const waitedMs = performance.now() - t0;
  assert.ok(waitedMs < 15_000, `waited ${Math.round(waitedMs)} ms for a 2 s bound`);
});
