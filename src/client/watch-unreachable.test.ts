// A watch whose members all fail gives up once none has answered for unreachableTimeoutMs (the
// CLI's --deadline-ms) instead of retrying silently for ever.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { LeasekvClient, UnavailableError } from './index.ts';

async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test(
  'watch: every member refusing connections ends the watch with UnavailableError after unreachableTimeoutMs',
  { timeout: 20_000 },
  async () => {
    const kv = new LeasekvClient({ endpoints: [`127.0.0.1:${await deadPort()}`, `127.0.0.1:${await deadPort()}`] });
    try {
      const it = kv.watch('a', { unreachableTimeoutMs: 300, startRevision: 7 });
      await assert.rejects(
        (async () => {
          for await (const _ of it) assert.fail('no member serves');
        })(),
        (e: unknown) =>
          e instanceof UnavailableError &&
          /no member answered the watch for 300 ms \(last error: 127\.0\.0\.1:\d+: connect ECONNREFUSED/.test(
            e.message,
          ) &&
          /resume from revision 7/.test(e.message),
      );
    } finally {
      await kv.close();
    }
  },
);
