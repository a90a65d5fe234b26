// The overload attack of `--scenario abuse` (issue 13): 4× the node's in-flight budget kept in
// flight from the attacker's address (abuse-attacks.ts, ATTACKER), bounded in time.
import type { ClientHttp2Session } from 'node:http2';
import { codeOf, h2, Tally } from './abuse-attacks.ts';
import { sleep } from './procs.ts';

/**
 * Overload: `concurrency` requests kept in flight for `durationMs` (closed loop, Get or Put), over HTTP/2
 * connections of 64 streams each; counts answers. The node should shed what exceeds its in-flight
 * budget with resource_exhausted, fast, rather than queue it. A connection the node closes (GOAWAY)
 * is opened again at once, as a persistent attacker would.
 */
export async function overload(
  port: number,
  concurrency = 4096,
  durationMs = 5000,
  op: 'Get' | 'Put' = 'Get',
): Promise<string> {
  const t = new Tally();
  const open = async (): Promise<ClientHttp2Session> => {
    const s = await h2(port);
    s.on('error', () => undefined);
    s.on('goaway', (code: number) => t.add(`GOAWAY code ${code}`));
    return s;
  };
  const sessions = await Promise.all(Array.from({ length: Math.ceil(concurrency / 64) }, open));
  const reopening = new Map<number, Promise<ClientHttp2Session | null>>();
  /** The slot's session, opened again (once for all its streams) if the node closed it. */
  const sessionOf = async (k: number): Promise<ClientHttp2Session | null> => {
    const s = sessions[k] as ClientHttp2Session;
    if (!s.closed && !s.destroyed) return s;
    let p = reopening.get(k);
    if (p === undefined) {
      t.add('reconnected');
      p = open().then(
        (fresh) => {
          sessions[k] = fresh;
          return fresh;
        },
        () => null,
      );
      reopening.set(k, p);
      void p.finally(() => reopening.delete(k));
    }
    return p;
  };
  const end = performance.now() + durationMs;
  // Gets are lease reads, answered from shared memory without an in-flight slot; Puts each hold one
  // until committed, so with Puts the budget is what sheds (resource_exhausted).
  const value = 'v'.repeat(100);
  const bodyOf = (i: number): Buffer =>
    op === 'Get'
      ? Buffer.from('{"key":"bench-00000001"}')
      : Buffer.from(`{"key":"bench-overload-${i % 256}","value":"${value}"}`);
  await Promise.all(
    Array.from({ length: concurrency }, async (_, i) => {
      while (performance.now() < end) {
        const s = await sessionOf(i % sessions.length);
        if (s === null) {
          t.add('connect failed');
          await sleep(100);
          continue;
        }
        const label = await new Promise<string>((resolve) => {
          let r;
          try {
            r = s.request({ ':method': 'POST', ':path': `/leasekv.v1.KV/${op}`, 'content-type': 'application/json' });
          } catch (e) {
            resolve(`error ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
            return;
          }
          let status = 0;
          let text = '';
          r.on('response', (h) => (status = Number(h[':status'])));
          r.on('data', (c: Buffer) => (text += c.toString()));
          r.on('end', () => resolve(`${status} ${codeOf(text)}`));
          r.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
          r.end(bodyOf(i));
        });
        t.add(label);
        if (label !== '200 ok') await sleep(10);
      }
    }),
  );
  for (const s of sessions) s.destroy();
  return t.toString();
}
