// leasekv watch KEY [--prefix] [--rev N] [--prev-kv] [--count N]: changes as they happen.
import { CompactedError } from '../../client/index.ts';
import { command, field, makeClient, parse, UsageError, want } from './common.ts';

const USAGE = `usage: leasekv watch KEY [--prefix] [--rev N] [--prev-kv] [--count N] [options]

Prints every change to KEY (with --prefix, to every key starting with KEY; "" with --prefix: all
keys) as it is applied, until interrupted (Ctrl-C) or --count events were printed. Any member may
serve it; if the member fails, the watch resumes on another from the revision after the last one
printed, so no change is skipped or printed twice.
  --prefix      KEY is a prefix
  --rev N       start at revision N (earlier changes still held are printed first); default: now
  --prev-kv     also print each key's previous value
  --count N     exit 0 after N events
output (-w): simple "PUT KEY VALUE" / "DELETE KEY" per event (fields quoted as JSON when they hold
control characters); json one JSON object per line and event:
{"type":"PUT","key":...,"value":...,"modRevision":N,"createRevision":N,"version":N[,"prevValue":...]}
Exit code 1 with "compacted" when no member still holds revision N (re-read, then watch from the
read's revision), and when no member has answered for --deadline-ms (every one down or
unreachable; the message names the revision to resume from with --rev).`;

export function run(argv: string[]): Promise<number> {
  return command(
    'watch',
    USAGE,
    argv,
    async () => {
      const { common, positionals, values } = parse(
        argv,
        {
          prefix: { type: 'boolean' },
          rev: { type: 'string' },
          'prev-kv': { type: 'boolean' },
          count: { type: 'string' },
        },
        { formats: ['simple', 'json'] },
      );
      want(positionals, 1, 'KEY');
      const int = (text: string | undefined, flag: string, min: number): number | undefined => {
        if (text === undefined) return undefined;
        const n = Number(text);
        if (!Number.isSafeInteger(n) || n < min)
          throw new UsageError(`${flag} must be an integer >= ${min}, got '${text}'`);
        return n;
      };
      const rev = int(values.rev, '--rev', 1);
      const count = int(values.count, '--count', 1);
      const client = makeClient(common);
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      let printed = 0;
      try {
        const it = client.watch(positionals[0]!, {
          prefix: values.prefix === true,
          prevKv: values['prev-kv'] === true,
          signal: stop.signal,
          // No member answering at all (every endpoint down or unreachable) ends the watch.
          unreachableTimeoutMs: common.deadlineMs,
          ...(rev === undefined ? {} : { startRevision: rev }),
        });
        for await (const r of it) {
          for (const e of r.events) {
            const { kv } = e;
            if (common.json) {
              const o: Record<string, unknown> = {
                type: e.type,
                key: kv.key,
                value: kv.value,
                modRevision: kv.modRevision,
                createRevision: kv.createRevision,
                version: kv.version,
              };
              if (e.prevKv !== undefined) o['prevValue'] = e.prevKv.value;
              process.stdout.write(`${JSON.stringify(o)}\n`);
            } else {
              const prev = e.prevKv === undefined ? '' : ` (was ${field(e.prevKv.value)})`;
              process.stdout.write(
                e.type === 'PUT'
                  ? `PUT ${field(kv.key)} ${field(kv.value)}${prev}\n`
                  : `DELETE ${field(kv.key)}${prev}\n`,
              );
            }
            if (count !== undefined && ++printed >= count) return 0;
          }
        }
        return 0;
      } catch (err) {
        if (err instanceof CompactedError) {
          process.stderr.write(`leasekv watch: compacted: ${err.message}\n`);
          return 1;
        }
        throw err;
      } finally {
        stop.abort();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await client.close();
      }
    },
    { formats: ['simple', 'json'] },
  );
}
