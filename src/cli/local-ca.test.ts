// up's local CA (issue 15): certificates are made once and reused; a missing, expired or foreign
// one is made again; an expiring CA makes everything again; keys are private to their owner.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { X509Certificate } from 'node:crypto';
import { createCa, issueCert } from '../util/certs.ts';
import { ensureLocalCerts, serveTlsArgs } from './local-ca.ts';
import { cliTls, recordLocalCluster } from './tls-settings.ts';

const DAY = 86_400_000;

test('made once, reused, and made again when missing, expired or from another CA', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-ca-'));
  try {
    const first = await ensureLocalCerts(dir, ['n1', 'n2']);
    assert.deepEqual(first.made, [
      'ca.crt',
      'peer-ca.crt',
      'n1.crt',
      'n1-peer.crt',
      'n2.crt',
      'n2-peer.crt',
      'client.crt',
    ]);
    const c = first.certs;
    assert.equal(statSync(c.node('n1').client.key).mode & 0o777, 0o600);
    const n1 = new X509Certificate(readFileSync(c.node('n1').client.cert));
    assert.ok(n1.checkIssued(new X509Certificate(readFileSync(c.ca))));
    assert.match(n1.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
    // The peer certificates come from the other CA: a client certificate cannot pass as a member.
    const peer = new X509Certificate(readFileSync(c.node('n1').peer.cert));
    assert.ok(peer.checkIssued(new X509Certificate(readFileSync(c.peerCa))));
    assert.ok(!peer.checkIssued(new X509Certificate(readFileSync(c.ca))));
    assert.deepEqual((await ensureLocalCerts(dir, ['n1', 'n2'])).made, []);

    unlinkSync(c.node('n2').peer.key);
    const caPem = { certPem: readFileSync(c.ca, 'utf8'), keyPem: readFileSync(join(c.dir, 'ca.key'), 'utf8') };
    const expired = await issueCert(caPem, {
      commonName: 'n1',
      server: true,
      notBefore: new Date(Date.now() - 30 * DAY),
      notAfter: new Date(Date.now() - DAY),
    });
    writeFileSync(c.node('n1').client.cert, expired.certPem);
    writeFileSync(c.node('n1').client.key, expired.keyPem);
    const foreign = await issueCert(await createCa({ commonName: 'x' }), { commonName: 'root', client: true });
    writeFileSync(c.client.cert, foreign.certPem);
    writeFileSync(c.client.key, foreign.keyPem);
    assert.deepEqual((await ensureLocalCerts(dir, ['n1', 'n2'])).made, ['n1.crt', 'n2-peer.crt', 'client.crt']);

    // An expiring CA: a new one, and every certificate with it.
    const oldCa = await createCa({ commonName: 'old', notAfter: new Date(Date.now() + DAY) });
    writeFileSync(c.ca, oldCa.certPem);
    writeFileSync(join(c.dir, 'ca.key'), oldCa.keyPem);
    assert.deepEqual((await ensureLocalCerts(dir, ['n1', 'n2'])).made, ['ca.crt', 'n1.crt', 'n2.crt', 'client.crt']);
    assert.deepEqual(serveTlsArgs(c, 'n2').slice(0, 2), ['--tls-cert', join(c.dir, 'n2.crt')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the CLI takes flags, then environment, then the record of up for the endpoint; http:// is plaintext', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-cli-tls-'));
  try {
    const { certs } = await ensureLocalCerts(join(dir, 'data'), ['n1']);
    const env = { LEASEKV_CONFIG_HOME: join(dir, 'config') };
    const none = new Set<string | null>([null]);
    assert.equal(cliTls({}, ['127.0.0.1:7001'], none, env), null, 'nothing recorded: plaintext');
    recordLocalCluster(['127.0.0.1:7001'], { cacert: certs.ca, cert: certs.client.cert, key: certs.client.key }, env);
    const rec = cliTls({}, ['127.0.0.1:7001'], none, env);
    assert.equal(String(rec?.ca), readFileSync(certs.ca, 'utf8'));
    assert.equal(cliTls({}, ['127.0.0.1:7001'], new Set(['http']), env), null, 'http:// forces plaintext');
    assert.equal(cliTls({}, ['127.0.0.1:9999'], none, env), null, 'another endpoint: not this record');
    assert.deepEqual(cliTls({}, ['127.0.0.1:9999'], new Set(['https']), env), {}, 'https:// alone: built-in roots');
    const flags = cliTls({ cacert: certs.peerCa }, ['127.0.0.1:7001'], none, env);
    assert.equal(String(flags?.ca), readFileSync(certs.peerCa, 'utf8'), 'a flag wins over the record');
    assert.equal(
      String(cliTls({}, ['x:1'], none, { ...env, LEASEKV_CACERT: certs.ca })?.ca),
      readFileSync(certs.ca, 'utf8'),
    );
    assert.throws(() => cliTls({ cert: certs.client.cert }, ['x:1'], none, env), /--cert and --key go together/);
    assert.throws(() => cliTls({ cacert: join(dir, 'nope.crt') }, ['x:1'], none, env), /--cacert .*nope\.crt: ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
