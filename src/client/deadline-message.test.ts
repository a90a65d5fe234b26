// The deadline error names what went wrong, not the timeout of a last attempt the deadline cut
// short (caller.ts, `telling`): a CI run under load reported "no answer within 23 ms" for an https
// endpoint that had refused the TLS handshake on every earlier attempt.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { DeadlineExceededError, LeasekvClient } from './index.ts';

test('a deadline error reports the TLS refusal seen before, not the timeout of the attempt the deadline cut short', async () => {
  // Plaintext: the first connection is answered as HTTP (a TLS client sees "wrong version number");
  // every later one is held without an answer, so the attempt on it runs until the deadline.
  const held: Socket[] = [];
  let connections = 0;
  const server = createServer((sock) => {
    if (connections++ === 0) sock.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else held.push(sock);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  // Every attempt is cut short by the deadline (1500 ms < attemptTimeoutMs).
  const kv = new LeasekvClient({ endpoints: [`https://127.0.0.1:${port}`], deadlineMs: 1500, attemptTimeoutMs: 5000 });
  try {
    await assert.rejects(
      kv.get('k'),
      (e: unknown) => e instanceof DeadlineExceededError && /does not speak TLS on this port/.test(e.message),
    );
    assert.ok(connections >= 2, 'a later attempt was held until the deadline');
  } finally {
    await kv.close();
    for (const s of held) s.destroy();
    server.close();
  }
});
