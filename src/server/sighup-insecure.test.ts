// SIGHUP reloads the TLS files (docs/security.md); a node started with --insecure has none, and said
// "TLS files reloaded: new connections use them" anyway (session 13 outside-in audit).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ProcessCluster } from '../testkit/cluster.ts';
import { waitFor } from '../testkit/wait.ts';

test('serve --insecure: SIGHUP says there are no TLS files to reload, and the node serves on', async () => {
  const c = await ProcessCluster.start({ size: 1, name: 'sighup' });
  try {
    await c.waitForLeader(60_000);
    process.kill(c.pid('n1'), 'SIGHUP');
    const log = await waitFor('the SIGHUP answered in the log', 30_000, () => {
      const text = readFileSync(c.logPath('n1'), 'utf8');
      return text.includes('SIGHUP received') && /"msg":"(no TLS files|TLS files reloaded)/.test(text) && text;
    });
    assert.match(log, /"msg":"no TLS files to reload: this node runs with --insecure"/);
    assert.doesNotMatch(log, /TLS files reloaded/);
    assert.equal(c.alive('n1'), true);
  } finally {
    await c.close();
  }
});
