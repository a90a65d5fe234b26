// leasekv ttl grant MS | ttl keep-alive ID MS | ttl revoke ID — keys with a time to live (issue 14).
import { command, emit, makeClient, parse, UsageError } from './common.ts';

const USAGE = `usage: leasekv ttl grant MS [options]
       leasekv ttl keep-alive ID MS [options]
       leasekv ttl revoke ID [options]

TTL grants ("time to live"; not the leader's lease): a grant lives MS milliseconds after it is made
and after each keep-alive; when it ends, every key attached to it (leasekv put KEY VALUE --ttl ID)
is deleted. The leader decides when and replicates it; a grant never ends early, even when the
leader changes (docs/lease-safety.md, "TTL grants").
  grant MS           make a grant; prints its ID
  keep-alive ID MS   keep grant ID (of MS ms) alive until interrupted (Ctrl-C); exit 1 if it ends
  revoke ID          end grant ID now (its keys are deleted)
output (-w): simple the ID / OK, json the answer`;

function id(text: string | undefined): number {
  const n = Number(text);
  if (text === undefined || !Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`expected a TTL grant ID (an integer >= 1), got '${text ?? ''}'`);
  return n;
}

function ms(text: string | undefined): number {
  const n = Number(text);
  if (text === undefined || !Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`expected a TTL in ms (an integer >= 1), got '${text ?? ''}'`);
  return n;
}

export function run(argv: string[]): Promise<number> {
  return command(
    'ttl',
    USAGE,
    argv,
    async () => {
      const { common, positionals } = parse(argv, {}, { formats: ['simple', 'json'] });
      const [sub, a, b] = positionals;
      const client = makeClient(common);
      try {
        switch (sub) {
          case 'grant': {
            if (positionals.length !== 2) throw new UsageError('expected: ttl grant MS');
            const res = await client.ttlGrant(ms(a));
            emit(common.format, { simple: () => `${res.id}\n`, json: () => res });
            return 0;
          }
          case 'keep-alive': {
            if (positionals.length !== 3) throw new UsageError('expected: ttl keep-alive ID MS');
            const stop = new AbortController();
            const onSignal = (): void => stop.abort();
            process.once('SIGINT', onSignal);
            process.once('SIGTERM', onSignal);
            try {
              await client.ttlKeepAliveLoop(id(a), ms(b), stop.signal);
              return 0;
            } finally {
              process.off('SIGINT', onSignal);
              process.off('SIGTERM', onSignal);
            }
          }
          case 'revoke': {
            if (positionals.length !== 2) throw new UsageError('expected: ttl revoke ID');
            const res = await client.ttlRevoke(id(a));
            emit(common.format, {
              simple: () => (res.found ? 'OK\n' : 'not found (already ended)\n'),
              json: () => res,
            });
            return res.found ? 0 : 1;
          }
          default:
            throw new UsageError(`expected grant, keep-alive or revoke, got '${sub ?? ''}'`);
        }
      } finally {
        await client.close();
      }
    },
    { formats: ['simple', 'json'] },
  );
}
