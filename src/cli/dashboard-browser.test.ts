// The dashboard in real headless Chromium (issue 6): a 3-node cluster under the supervisor (the
// `leasekv up` code path), over HTTPS with the certificates `up` makes (issue 15) — Chromium trusts
// exactly the nodes' certificates (their SPKI pins), not any certificate — the page shows 3 members and exactly one leader; killing the leader
// from the page shows a new leader and the lease handover (the new lease starts only after the old
// one ended) or the new leader's wait for the old lease. Screenshot: test-artifacts/dashboard-failover.png.
//
// Needs Debian's chromium (/usr/bin/chromium, or LEASEKV_CHROMIUM). Missing: fails under CI
// (CI=true), skips with a message elsewhere.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { chromiumSkip, launchChromium, LAUNCH_TIMEOUT_MS } from '../testkit/chromium.ts';
import { LeasekvClient } from '../client/index.ts';
import { freePort, sleep, waitFor } from '../testkit/wait.ts';
import { START_HOOK_TIMEOUT_MS, startTestCluster, type TestCluster } from './test-cluster.ts';

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);
const skip = chromiumSkip('the dashboard browser test');

let cluster: TestCluster | null = null;
let context: BrowserContext | null = null;
let closeBrowser: (() => Promise<void>) | null = null;
let load: { stop: () => Promise<void> } | null = null;
/**
 * The set-up under way: after() waits for it before closing. Without that, a set-up still going
 * when its hook timed out (a cluster start and Chromium's launch at load 20 on 2 cores) launched
 * Chromium after after() had run, and the file's process never ended: a CI run hung on it (session 8).
 */
let setup: Promise<void> | null = null;

before(
  async () => {
    if (skip !== false) return;
    setup = launch();
    await setup;
  },
  { timeout: START_HOOK_TIMEOUT_MS + LAUNCH_TIMEOUT_MS },
);

async function launch(): Promise<void> {
  cluster = await startTestCluster(3, undefined, { tls: true });
  // The local CA is not in Chromium's store: trust the nodes' own keys, and nothing else.
  const browser = await launchChromium([`--ignore-certificate-errors-spki-list=${cluster.spkiPins.join(',')}`], {
    width: 1440,
    height: 1000,
  });
  context = browser.context;
  closeBrowser = browser.close;
}

after(async () => {
  await setup?.catch(() => {});
  await load?.stop().catch(() => {});
  await closeBrowser?.();
  await cluster?.close();
});

/** A client of every member of `c`. */
function clientOf(c: TestCluster, deadlineMs: number): LeasekvClient {
  return new LeasekvClient({
    endpoints: c.nodes.map((n) => n.clientAddr),
    deadlineMs,
    ...(c.tls === null ? {} : { tls: c.tls }),
  });
}

/** A new page on the dashboard served at `clientAddr`, and the script errors it raises. */
async function openDashboard(c: TestCluster, clientAddr: string): Promise<{ page: Page; errors: string[] }> {
  assert.ok(context !== null, 'set up by before()');
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${c.url(clientAddr)}/`);
  return { page, errors };
}

async function waitForOneLeaderCard(page: Page): Promise<void> {
  await page.waitForFunction(() => document.querySelectorAll('.card[data-role="leader"]').length === 1, null, {
    timeout: 20_000,
  });
}

/** Waits until member `id`'s card says it is a `member` (learner, voter, removed). */
async function waitForMemberCard(page: Page, id: string, member: string, timeout: number): Promise<void> {
  await page.waitForFunction(
    ([i, m]) => document.querySelector(`.card[data-node-id="${i}"]`)?.getAttribute('data-member') === m,
    [id, member] as const,
    { timeout },
  );
}

/** A light read/write load so that the request panel has something to show. */
function startLoad(c: TestCluster): { stop: () => Promise<void> } {
  const client = clientOf(c, 3000);
  let running = true;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      await client.put(`k${i % 16}`, `v${i}`).catch(() => {});
      await client.get(`k${i % 16}`).catch(() => {});
      await sleep(15);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await client.close();
    },
  };
}

test(
  'dashboard: 3 members, one leader; killing the leader from the page shows the new leader and the lease handover',
  { skip, timeout: 60_000 },
  async () => {
    assert.ok(cluster !== null, 'set up by before()');
    const c = cluster;
    const { page, errors } = await openDashboard(c, c.nodes[0]?.clientAddr ?? '');
    // The leader's id is read in the same evaluation that sees one leader: a card may briefly show
    // 'unreachable' between two status messages on a loaded machine, so a second query could see none.
    let oldLeader: string | undefined;
    try {
      const found = await page.waitForFunction(
        () => {
          const leaders = document.querySelectorAll('.card[data-role="leader"]');
          return document.querySelectorAll('.card').length === 3 && leaders.length === 1
            ? ((leaders[0] as HTMLElement).dataset['nodeId'] ?? '')
            : false;
        },
        null,
        { timeout: 25_000 },
      );
      oldLeader = (await found.jsonValue()) as string;
    } catch (e) {
      throw new Error(`no single leader on the page: ${String(e)}\nnode output:\n${c.output()}`);
    }
    assert.equal(await page.locator('.card').count(), 3);
    assert.ok(oldLeader !== undefined && oldLeader !== '', 'a leader card has a node id');
    load = startLoad(c);
    // The controls are shown because the nodes run under the supervisor.
    const kill = page.locator(`.card[data-node-id="${oldLeader}"] button[data-action="kill"]`);
    await kill.waitFor({ state: 'visible', timeout: 5000 });
    await page.waitForTimeout(1500); // some load and lease renewals on the timeline
    await kill.click();

    const newFound = await page.waitForFunction(
      (old) => {
        const leaders = Array.from(document.querySelectorAll('.card[data-role="leader"]')).map(
          (e) => (e as HTMLElement).dataset['nodeId'],
        );
        const shown =
          document.querySelector(
            '#log li[data-kind="handover"], #log li[data-kind="wait"], #log li[data-kind="overlap"]',
          ) !== null;
        return leaders.length === 1 && leaders[0] !== old && shown ? (leaders[0] ?? '') : false;
      },
      oldLeader,
      { timeout: 20_000 },
    );
    const newLeader = (await newFound.jsonValue()) as string;
    assert.notEqual(newLeader, oldLeader);
    // The supervisor really killed the process, and the page says the old leader is gone. (Under
    // load the page can show a new leader, elected while the old one was starved, before the kill.)
    await waitFor(`the supervisor to see ${oldLeader} stopped`, 20_000, () =>
      c.supervisor.states().some((s) => s.id === oldLeader && s.state === 'stopped'),
    );
    await page.waitForFunction(
      (old) => document.querySelector(`.card[data-node-id="${old}"]`)?.getAttribute('data-role') === 'unreachable',
      oldLeader,
      { timeout: 5000 },
    );
    // One lease at a time: the page never saw two leases overlap.
    assert.equal(await page.locator('#log li[data-kind="overlap"]').count(), 0);
    const handover = await page
      .locator('#log li[data-kind="handover"], #log li[data-kind="wait"]')
      .first()
      .textContent();
    assert.match(handover ?? '', new RegExp(`${oldLeader}|old leader`));
    assert.ok(
      (await page.locator('#timeline [data-kind="lease"]').count()) >= 2,
      'both leases are drawn on the timeline',
    );
    await page.waitForTimeout(1200); // let the new lease grow on the timeline before the picture
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL('dashboard-failover.png', ARTIFACTS).pathname, fullPage: true });
    assert.deepEqual(errors, [], 'no script errors on the page');
  },
);

test(
  'dashboard: a learner added through the Cluster API appears marked as a learner; removed, it is marked removed',
  { skip, timeout: 45_000 },
  async () => {
    assert.ok(cluster !== null, 'set up by before()');
    const c = cluster;
    // Served by a member the previous test left running (it killed the then leader).
    const live = c.supervisor.states().find((s) => s.state === 'running')?.id;
    const served = c.nodes.find((n) => n.id === live) ?? c.nodes[1];
    const { page, errors } = await openDashboard(c, served?.clientAddr ?? '');
    await waitForOneLeaderCard(page);
    assert.equal(await page.locator('.card[data-member="learner"]').count(), 0, 'no learner before the change');
    const client = clientOf(c, 10_000);
    try {
      // No process behind these addresses: a learner does not vote, so the voters commit without it.
      await client.cluster('MemberAdd', {
        id: 'n9',
        peerAddr: `127.0.0.1:${await freePort()}`,
        clientAddr: `127.0.0.1:${await freePort()}`,
        learner: true,
      });
      await waitForMemberCard(page, 'n9', 'learner', 10_000);
      assert.match((await page.locator('.card[data-node-id="n9"] .badge.member').textContent()) ?? '', /learner/);
      assert.equal(
        await page.locator('.card[data-member="voter"]').count(),
        3,
        'the three voters are marked as voters',
      );
      await client.cluster('MemberRemove', { id: 'n9' });
      await waitForMemberCard(page, 'n9', 'removed', 10_000);
      assert.ok((await page.locator('#log li[data-kind="config"]').count()) >= 2, 'the change is in the events');
    } finally {
      await client.close();
    }
    assert.match(
      (await page.locator('#summary').textContent()) ?? '',
      /of 3 members reachable/,
      'a removed member is not counted',
    );
    assert.deepEqual(errors, [], 'no script errors on the page');
  },
);

test(
  'dashboard: "Add member" adds n4, which becomes a voter; its "Remove" removes it and stops its process',
  { skip, timeout: 120_000 },
  async () => {
    assert.ok(cluster !== null, 'set up by before()');
    const c = cluster;
    // Served by a member that was running already; the first test may have left its killed leader
    // stopped: a full cluster makes the changes safe.
    const live =
      c.nodes.find((n) => n.id === c.supervisor.states().find((s) => s.state === 'running')?.id) ?? c.nodes[1];
    for (const s of c.supervisor.states()) if (s.state === 'stopped') await c.supervisor.act(s.id, 'restart');
    const { page, errors } = await openDashboard(c, live?.clientAddr ?? '');
    await waitForOneLeaderCard(page);
    await page.locator('#add-member').click();
    // A new process started, caught up and promoted: at load 30 on 2 cores that took over 30 s.
    await waitForMemberCard(page, 'n4', 'voter', 75_000);
    const pid = c.supervisor.states().find((s) => s.id === 'n4')?.pid;
    assert.ok(typeof pid === 'number', `the supervisor runs n4\n${c.output()}`);
    assert.ok(
      await page.locator('.card[data-node-id="n4"] button[data-action="isolate"]').isHidden(),
      'no isolate for an added member',
    );
    await page.locator('.card[data-node-id="n4"] button[data-action="remove-member"]').click();
    await waitForMemberCard(page, 'n4', 'removed', 15_000);
    for (let i = 0; i < 100 && c.supervisor.states().some((s) => s.id === 'n4'); i++) await sleep(100);
    assert.throws(() => process.kill(pid, 0), "n4's process has exited");
    assert.deepEqual(errors, [], 'no script errors on the page');
  },
);
