// Bad input on a secure node (issue 15, "Bad input"): a real `leasekv serve` process with TLS on
// the client port and the peer port and auth on. Each refusal — a plaintext peer, a client that does
// not trust the node's CA, a client certificate of another CA, an expired or a not-yet-valid one, a
// wrong token, a user without the role, wrong passwords and a flood of them — gives the caller a
// clear error, and the node ONE log line however often it is repeated (util/log-limit.ts counts the
// lines held back and says how many in a later line). The refused peer certificates
// are tests of their own (tls.test.ts), as is a plaintext client on the client port.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCa, issueCert, type CertPem } from '../../util/certs.ts';
import { LEASEKV_BIN, NodeProcess } from '../../testkit/proc.ts';
import { freePorts, waitFor } from '../../testkit/wait.ts';
import { serveArgs } from '../serve-args.ts';

const DAY = 86_400_000;
const HOST = '127.0.0.1';
/** Each refusal is repeated this often; the node must log it once. */
const REPEAT = 8;

interface Answer {
  readonly status: number;
  readonly body: { code?: string; message?: string; token?: string };
}

describe('refusals on a secure node: a clear error for the caller, one line in the node log', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-refusals-'));
  const file = (name: string): string => join(dir, name);
  let node: NodeProcess;
  let clientPort = 0;
  let peerPort = 0;
  let ca: CertPem;
  const certs = new Map<string, CertPem>();

  const logLines = (msg: RegExp): Record<string, unknown>[] =>
    readFileSync(file('n1.log'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => msg.test(String(r['msg'])));

  /**
   * Asserts the node logged exactly one line of `msg` (and `which`). Waited for first: the client
   * API thread's lines reach the log through the node's thread, after the answers the test has
   * already read (seen once as a count of 0 on a loaded machine).
   */
  const oneLine = async (msg: RegExp, which: (r: Record<string, unknown>) => boolean = () => true): Promise<void> => {
    const count = (): number => logLines(msg).filter(which).length;
    await waitFor(`the node to log ${String(msg)}`, 20_000, () => (count() > 0 ? true : undefined));
    assert.equal(count(), 1, JSON.stringify(logLines(msg).filter(which)));
  };

  /** `ask` again (bounded) while the answer is unavailable (no leader for a moment); the other answer. */
  const whileUnavailable = (what: string, ask: () => Promise<Answer>): Promise<Answer> =>
    waitFor(
      `${what} answered`,
      60_000,
      async () => {
        const a = await ask();
        return a.body.code === 'unavailable' ? undefined : a;
      },
      { intervalMs: 200 },
    );

  /** One HTTPS request (a fresh connection: `agent: false`); rejects with the client's TLS error. */
  const call = (
    path: string,
    body: object,
    o: { token?: string; cert?: CertPem; trust?: string } = {},
  ): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const data = JSON.stringify(body);
      const req = httpsRequest(
        {
          host: HOST,
          port: clientPort,
          path,
          method: 'POST',
          agent: false,
          ca: o.trust ?? ca.certPem,
          ...(o.cert === undefined ? {} : { cert: o.cert.certPem, key: o.cert.keyPem }),
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(data),
            ...(o.token === undefined ? {} : { authorization: `Bearer ${o.token}` }),
          },
          timeout: 60_000, // only a hang: a loaded node may take seconds to hash a password
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Answer['body'],
            }),
          );
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(data);
    });
  const authenticate = (name: string, password: string): Promise<Answer> =>
    call('/leasekv.v1.Auth/Authenticate', { name, password });
  let rootToken = '';

  before(async () => {
    ca = await createCa({ commonName: 'refusals client CA' });
    const peerCa = await createCa({ commonName: 'refusals peer CA' });
    const otherCa = await createCa({ commonName: 'another CA' });
    const write = (name: string, c: CertPem): void => {
      writeFileSync(file(`${name}.crt`), c.certPem);
      writeFileSync(file(`${name}.key`), c.keyPem, { mode: 0o600 });
    };
    writeFileSync(file('ca.crt'), ca.certPem);
    writeFileSync(file('peer-ca.crt'), peerCa.certPem);
    writeFileSync(file('other-ca.crt'), otherCa.certPem);
    write('n1', await issueCert(ca, { commonName: 'n1', server: true, client: true, ips: [HOST] }));
    write('n1-peer', await issueCert(peerCa, { commonName: 'n1', server: true, client: true }));
    certs.set('other-ca', await issueCert(otherCa, { commonName: 'root', client: true }));
    certs.set(
      'expired',
      await issueCert(ca, {
        commonName: 'root',
        client: true,
        notBefore: new Date(Date.now() - 30 * DAY),
        notAfter: new Date(Date.now() - DAY),
      }),
    );
    certs.set(
      'not-yet-valid',
      await issueCert(ca, {
        commonName: 'root',
        client: true,
        notBefore: new Date(Date.now() + DAY),
        notAfter: new Date(Date.now() + 30 * DAY),
      }),
    );
    writeFileSync(file('root.password'), 'root-secret\n', { mode: 0o600 });
    [clientPort, peerPort] = (await freePorts(2, HOST)) as [number, number];
    node = NodeProcess.spawn({
      args: [
        LEASEKV_BIN,
        ...serveArgs({
          insecure: false,
          id: 'n1',
          dataDir: file('data'),
          listenPeer: `${HOST}:${peerPort}`,
          listenClient: `${HOST}:${clientPort}`,
          peers: `n1=${HOST}:${peerPort}`,
          settings: {
            'tls-cert': file('n1.crt'),
            'tls-key': file('n1.key'),
            'tls-ca': file('ca.crt'),
            'peer-tls-cert': file('n1-peer.crt'),
            'peer-tls-key': file('n1-peer.key'),
            'peer-tls-ca': file('peer-ca.crt'),
            auth: true,
            'root-password-file': file('root.password'),
            'auth-attempts-per-source-per-sec': 4,
            'log-level': 'info',
          },
        }),
      ],
      logPath: file('n1.log'),
    });
    // Bounded: electing itself, hashing the root password and committing it take seconds when loaded.
    rootToken = await waitFor(
      'root to authenticate',
      60_000,
      async () => {
        const a = await authenticate('root', 'root-secret').catch(() => null);
        return a?.status === 200 && a.body.token !== undefined ? a.body.token : undefined;
      },
      { intervalMs: 300 },
    );
  });
  after(async () => {
    await node?.kill();
    if (process.env.KEEP === undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('a wrong token: unauthenticated, saying so; one line', async () => {
    for (let i = 0; i < REPEAT; i++) {
      const a = await call('/leasekv.v1.KV/Get', { key: 'a' }, { token: 'lkv1.not.valid' });
      assert.equal(a.status, 401);
      assert.match(a.body.message ?? '', /invalid token \(not one this cluster signed\); authenticate again/);
    }
    await oneLine(/^unauthenticated request refused/, (r) => /invalid token/.test(String(r['reason'])));
  });

  for (const [name, why] of [
    [
      'other-ca',
      /client certificate presented was not accepted: it is not signed by the CA this node trusts \(--tls-ca\)/,
    ],
    ['expired', /client certificate presented was not accepted: it expired on .* \(CERT_HAS_EXPIRED\)/],
    [
      'not-yet-valid',
      /client certificate presented was not accepted: it is not valid before .* \(CERT_NOT_YET_VALID\)/,
    ],
  ] as const) {
    test(`a client certificate (${name}): unauthenticated, naming the certificate's problem; one line`, async () => {
      for (let i = 0; i < REPEAT; i++) {
        const a = await call('/leasekv.v1.KV/Get', { key: 'a' }, { cert: certs.get(name)! });
        assert.equal(a.status, 401);
        assert.match(a.body.message ?? '', why);
      }
      await oneLine(/^unauthenticated request refused/, (r) => why.test(String(r['reason'])));
    });
  }

  test('a user without the role: permission_denied naming user, access and key; one line', async () => {
    // Retried while unavailable: a loaded machine can stall the lone node past its lease, and it then
    // steps down with the write in flight (outcome unknown) and elects itself again.
    const add = await whileUnavailable('UserAdd bob', () =>
      call('/leasekv.v1.Auth/UserAdd', { name: 'bob', password: 'bob-secret' }, { token: rootToken }),
    );
    assert.ok(add.status === 200 || /user bob already exists/.test(add.body.message ?? ''), JSON.stringify(add.body));
    const bob = await whileUnavailable('Authenticate bob', () => authenticate('bob', 'bob-secret'));
    assert.equal(bob.status, 200, JSON.stringify(bob.body));
    for (let i = 0; i < REPEAT; i++) {
      const a = await call('/leasekv.v1.KV/Put', { key: 'app/x', value: 'v' }, { token: bob.body.token! });
      assert.equal(a.status, 403);
      assert.match(a.body.message ?? '', /user bob has no read-write permission on key "app\/x"/);
    }
    await oneLine(/^request refused: permission denied/, (r) => r['user'] === 'bob');
  });

  test('wrong passwords: unauthenticated; past the per-source rate, resource_exhausted without hashing; one line each', async () => {
    // Sequential wrong passwords (each a scrypt hash) until the per-source limit answers.
    const answers: Answer[] = [];
    for (let i = 0; i < 12 && answers.every((a) => a.status !== 429); i++)
      answers.push(await authenticate('root', `guess-${i}`));
    // A burst: at most 4 a second from one address are hashed, the rest are refused at once.
    answers.push(...(await Promise.all(Array.from({ length: 12 }, (_, i) => authenticate('root', `burst-${i}`)))));
    const codes = new Set(answers.map((a) => a.body.code));
    assert.deepEqual([...codes].sort(), ['resource_exhausted', 'unauthenticated']);
    for (const a of answers)
      if (a.body.code === 'unauthenticated') assert.equal(a.body.message, 'wrong user name or password');
      else
        assert.match(
          a.body.message ?? '',
          /too many Authenticate attempts from 127\.0\.0\.1: at most 4 per second from one address \(--auth-attempts-per-source-per-sec\); wait a second and try again/,
        );
    await oneLine(/^Authenticate failed: wrong user name or password/);
    await oneLine(/^Authenticate refused: over the attempt rate limit/);
  });

  test('a client that does not trust the node: its TLS error; one line on the node', async () => {
    const other = readFileSync(file('other-ca.crt'), 'utf8');
    for (let i = 0; i < REPEAT; i++)
      await assert.rejects(call('/leasekv.v1.KV/Status', {}, { trust: other }), /self.signed|unable to verify|issuer/i);
    await oneLine(/^client TLS handshake failed/);
  });

  test('a plaintext peer on the TLS peer port: told the port requires TLS; one line', async () => {
    for (let i = 0; i < REPEAT; i++) {
      const answer = await new Promise<string>((resolve, reject) => {
        const s = netConnect({ host: HOST, port: peerPort }, () => s.write(Buffer.from([0, 0, 0, 4, 1, 2, 3, 4])));
        const chunks: Buffer[] = [];
        s.on('data', (c: Buffer) => chunks.push(c));
        s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
        // The node closes with the rest of what was sent unread (a reset) once it has answered.
        s.on('error', (e) => (chunks.length > 0 ? resolve(Buffer.concat(chunks).toString('latin1')) : reject(e)));
        s.setTimeout(10_000, () => s.destroy(new Error('timeout')));
      });
      assert.match(answer, /this peer port requires TLS/);
    }
    await oneLine(/^refused peer connection/, (r) => /requires TLS/.test(String(r['reason'])));
  });
});
