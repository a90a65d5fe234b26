// Child process for the data-dir lock race test (dir_lock.test.ts): prints "ready", waits for a "go"
// line on stdin, tries to take the lock of DIR, prints "ok" or "locked <message>", then holds it until
// its stdin closes, releases it and exits. Its liveness probe is slow (300 ms), so that racing
// starters all judge the stale lock before any of them has replaced it: the window the takeover
// mutex must close, made wide.
// Usage: node --import tsx src/storage/dir_lock_child.ts DIR
import { acquireDirLock, DataDirLockedError, realProbe, type LockProbe } from './dir_lock.ts';

const slowProbe: LockProbe = {
  ...realProbe,
  isAlive(pid) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
    return realProbe.isAlive(pid);
  },
};

const [dir] = process.argv.slice(2);
if (dir !== undefined) {
  process.stdout.write('ready\n');
  let input = '';
  let started = false;
  process.stdin.on('data', (d: Buffer) => {
    input += d.toString();
    if (started || !input.includes('go\n')) return;
    started = true;
    try {
      const lock = acquireDirLock(dir, slowProbe);
      process.stdout.write('ok\n');
      process.stdin.on('end', () => lock.release());
    } catch (e) {
      if (!(e instanceof DataDirLockedError)) throw e;
      process.stdout.write(`locked ${e.message}\n`);
    }
  });
}
