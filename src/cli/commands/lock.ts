// leasekv lock NAME [--ttl-ms N] -- COMMAND [ARGS...]: run COMMAND while holding mutex NAME.
import { spawn } from 'node:child_process';
import { lock } from '../../client/index.ts';
import { command, makeClient, parse, UsageError } from './common.ts';

const USAGE = `usage: leasekv lock NAME [--ttl-ms N] -- COMMAND [ARGS...]

Waits for mutex NAME, runs COMMAND while holding it, releases it when COMMAND exits, and exits with
COMMAND's exit code. COMMAND gets LEASEKV_LOCK_KEY and LEASEKV_FENCING_TOKEN in its environment:
the token grows with every new holder, so a resource that remembers the largest token it has seen
can refuse a stale holder. If this process dies, the lock is freed when its TTL grant ends (never
before --ttl-ms after the last keep-alive). If the grant is lost while COMMAND runs, COMMAND gets
SIGTERM and leasekv lock exits 1.
  --ttl-ms N   TTL of the lock's grant (default 10000)`;

export function run(argv: string[]): Promise<number> {
  return command(
    'lock',
    USAGE,
    argv,
    async () => {
      const { common, positionals, values } = parse(argv, { 'ttl-ms': { type: 'string' } }, { formats: ['simple'] });
      const [name, cmd, ...args] = positionals;
      if (name === undefined || cmd === undefined) throw new UsageError('expected NAME -- COMMAND [ARGS...]');
      const ttlMs = values['ttl-ms'] === undefined ? 10_000 : Number(values['ttl-ms']);
      if (!Number.isSafeInteger(ttlMs) || ttlMs < 1)
        throw new UsageError(`--ttl-ms must be a positive integer, got '${values['ttl-ms']}'`);
      const client = makeClient({ ...common, deadlineMs: Math.max(common.deadlineMs, 30_000) });
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const held = await lock(client, name, { ttlMs, signal: stop.signal });
        try {
          const child = spawn(cmd, args, {
            stdio: 'inherit',
            env: { ...process.env, LEASEKV_LOCK_KEY: held.key, LEASEKV_FENCING_TOKEN: String(held.fencingToken) },
          });
          let lostErr: Error | null = null;
          void held.lost.then((e) => {
            lostErr = e;
            child.kill('SIGTERM');
          });
          stop.signal.addEventListener('abort', () => child.kill('SIGTERM'), { once: true });
          const code = await new Promise<number>((resolve) => {
            child.once('error', (e) => {
              process.stderr.write(`leasekv lock: cannot run ${cmd}: ${e.message}\n`);
              resolve(127);
            });
            child.once('exit', (c, sig) => resolve(c ?? (sig === null ? 1 : 128)));
          });
          if (lostErr !== null) {
            process.stderr.write(`leasekv lock: lost the lock while ${cmd} ran: ${(lostErr as Error).message}\n`);
            return 1;
          }
          return code;
        } finally {
          await held.unlock();
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await client.close();
      }
    },
    { formats: ['simple'] },
  );
}
