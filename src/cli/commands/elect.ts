// leasekv elect NAME VALUE | leasekv elect NAME --leader: campaign in election NAME, or show its leader.
import { campaign, leader } from '../../client/index.ts';
import { command, makeClient, parse, UsageError } from './common.ts';

const USAGE = `usage: leasekv elect NAME VALUE [--ttl-ms N]
       leasekv elect NAME --leader

Campaigns in election NAME with VALUE: waits until elected, prints "elected VALUE (token N)", and
stays leader until interrupted (Ctrl-C), then resigns. If this process dies, the next candidate is
elected when its TTL grant ends. With --leader: prints the current leader's value (exit 1: none).
  --ttl-ms N   TTL of the candidate's grant (default 10000)`;

export function run(argv: string[]): Promise<number> {
  return command(
    'elect',
    USAGE,
    argv,
    async () => {
      const { common, positionals, values } = parse(
        argv,
        { 'ttl-ms': { type: 'string' }, leader: { type: 'boolean' } },
        { formats: ['simple'] },
      );
      const [name, value] = positionals;
      if (name === undefined) throw new UsageError('expected NAME VALUE or NAME --leader');
      const client = makeClient({ ...common, deadlineMs: Math.max(common.deadlineMs, 30_000) });
      try {
        if (values.leader === true) {
          const l = await leader(client, name);
          if (l === undefined) {
            process.stderr.write(`leasekv elect: election ${name} has no leader\n`);
            return 1;
          }
          process.stdout.write(`${l.value}\n`);
          return 0;
        }
        if (value === undefined || positionals.length !== 2) throw new UsageError('expected NAME VALUE');
        const ttlMs = values['ttl-ms'] === undefined ? 10_000 : Number(values['ttl-ms']);
        if (!Number.isSafeInteger(ttlMs) || ttlMs < 1)
          throw new UsageError(`--ttl-ms must be a positive integer, got '${values['ttl-ms']}'`);
        const stop = new AbortController();
        const onSignal = (): void => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          const held = await campaign(client, name, value, { ttlMs, signal: stop.signal });
          process.stdout.write(`elected ${value} (token ${held.fencingToken})\n`);
          const lost = await Promise.race([
            held.lost,
            new Promise<null>((resolve) => stop.signal.addEventListener('abort', () => resolve(null), { once: true })),
          ]);
          await held.unlock();
          if (lost !== null) {
            process.stderr.write(`leasekv elect: lost leadership: ${lost.message}\n`);
            return 1;
          }
          return 0;
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      } finally {
        await client.close();
      }
    },
    { formats: ['simple'] },
  );
}
