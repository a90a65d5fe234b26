// Test helper: a real local cluster of `leasekv serve` processes under the supervisor (the same
// code path as `leasekv up`), planned by the test kit's launcher (src/testkit/cluster.ts: free
// loopback ports, data dirs, the serve command line) with fast timings. The supervisor runs the
// processes: it routes the peer links through its fault proxies and serves the dashboard controls.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import type { ClientTlsOptions } from '../client/transport.ts';
import { spkiSha256 } from '../util/certs.ts';
import { ensureLocalCerts, serveTlsSettings, type LocalCerts } from './local-ca.ts';
import { ProcessCluster } from '../testkit/cluster.ts';
import type { Settings } from '../testkit/cluster-options.ts';
import { freePorts, releasePorts, waitFor } from '../testkit/wait.ts';
import { clusterMembership } from './membership.ts';
import { startSupervisor, type SupervisedNode, type Supervisor } from './supervisor.ts';

export interface TestCluster {
  readonly supervisor: Supervisor;
  readonly nodes: readonly SupervisedNode[];
  /** The folder holding every node's data dir (DIR/n1, DIR/n2, ...). */
  readonly dir: string;
  /** Every node's stderr so far (for failure messages). */
  readonly output: () => string;
  /** With `tls`: what a client needs (the local CA, the CLI's client certificate); else null. */
  readonly tls: ClientTlsOptions | null;
  /** With `tls`: the certificates (as `leasekv up` makes them), and every node certificate's SPKI pin. */
  readonly certs: LocalCerts | null;
  readonly spkiPins: readonly string[];
  /** A node's base URL (https:// with `tls`). */
  url(clientAddr: string): string;
  close(): Promise<void>;
}

/**
 * How long startTestCluster waits for every node to serve, all at once. Each node loads the
 * TypeScript sources through tsx first: on this project's 2-core machine a 3-node start took 29-41 s
 * at load 23-34 (18:22-18:25, session 8), and over 90 s at load 37-48 (session 14). Past it, the
 * error carries the nodes' output; a node that exits meanwhile ends the wait at once.
 */
export const START_TIMEOUT_MS = 150_000;
/** The timeout of a test hook that starts a cluster: long enough for startTestCluster to report its own failure. */
export const START_HOOK_TIMEOUT_MS = START_TIMEOUT_MS + 15_000;

/** Members the dashboard may add (n4, n5): planned up front, started with --join when added. */
const SPARE = 2;

/**
 * `settings`: more `serve` flags for every member (name without --, as ClusterOptions.settings).
 * `tls`: TLS as under `leasekv up` (issue 15), with its local CA and certificates; else --insecure.
 */
export async function startTestCluster(
  size: number,
  settings?: Settings,
  opts: { tls?: boolean } = {},
): Promise<TestCluster> {
  let certs: LocalCerts | null = null;
  const plan = await ProcessCluster.plan({
    size,
    insecure: opts.tls !== true,
    settings: (id) => ({ ...settings, ...(certs === null ? {} : serveTlsSettings(certs, id)) }),
    spare: SPARE,
    name: 'cli',
    logLevel: 'warn',
    timing: { heartbeatMs: 50, electionTimeoutMs: 600, leaseMs: 500, requestTimeoutMs: 5000 },
  });
  const supervised = (id: string): SupervisedNode => ({
    id,
    clientAddr: plan.clientAddr(id),
    peerAddr: plan.peerAddr(id),
  });
  const nodes = plan.ids.map(supervised);
  const ids = Array.from({ length: size + SPARE }, (_, i) => `n${i + 1}`);
  if (opts.tls === true) certs = (await ensureLocalCerts(plan.dir, ids)).certs;
  const tls: ClientTlsOptions | null =
    certs === null
      ? null
      : { ca: readFileSync(certs.ca), cert: readFileSync(certs.client.cert), key: readFileSync(certs.client.key) };
  let output = '';
  const added = new Set<string>();
  // Reserved below the OS's ephemeral range: a proxy binds its port only once its node listens.
  const proxyPorts = await freePorts(size * (size - 1));
  const supervisor = await startSupervisor({
    nodes,
    controlPort: 0,
    proxyPorts,
    stopTimeoutMs: 3000,
    // add-member: n4, n5 on their planned ports, started with --join (as `leasekv up` does).
    membership: clusterMembership(
      nodes.map((n) => n.clientAddr),
      (taken) => {
        let k = size + 1;
        while (taken.includes(`n${k}`) || added.has(`n${k}`)) k++;
        if (k > size + SPARE) throw new Error(`the test cluster has room for ${SPARE} added members`);
        added.add(`n${k}`);
        return supervised(`n${k}`);
      },
      undefined,
      tls ?? undefined,
    ),
    spawn(id, routes, env) {
      const how = routes === '' ? { join: plan.ids } : { peers: plan.ids, peerRoutes: routes };
      const child = spawn(process.execPath, plan.command(id, how), {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child.stderr?.on('data', (b: Buffer) => {
        output = (output + `[${id}] ${b.toString()}`).slice(-20_000);
      });
      return child;
    },
  });
  const close = async (): Promise<void> => {
    await supervisor.close();
    await plan.close();
    releasePorts(proxyPorts);
  };
  try {
    const exited = (): string | undefined => {
      const gone = supervisor.states().find((st) => st.state === 'stopped');
      return gone === undefined ? undefined : `${gone.id} exited (${gone.lastExit})`;
    };
    const deadline = performance.now() + START_TIMEOUT_MS;
    await Promise.all(
      nodes.map((n) =>
        waitFor(`${n.id} to serve`, Math.max(0, deadline - performance.now()), () => serving(n.clientAddr, tls), {
          hopeless: exited,
        }),
      ),
    );
  } catch (e) {
    await close();
    throw new Error(`${(e as Error).message}\nnode output:\n${output}`);
  }
  const pins = certs === null ? [] : ids.map((id) => spkiSha256(readFileSync(certs!.node(id).client.cert, 'utf8')));
  return {
    supervisor,
    nodes,
    dir: plan.dir,
    output: () => output,
    tls,
    certs,
    spkiPins: pins,
    url: (clientAddr) => `${tls === null ? 'http' : 'https'}://${clientAddr}`,
    close,
  };
}

/** Whether the node at `addr` serves its dashboard (over TLS with the cluster's CA when given). */
function serving(addr: string, tls: ClientTlsOptions | null): Promise<boolean> {
  if (tls === null) return fetch(`http://${addr}/dashboard/config.json`).then((r) => r.ok);
  return new Promise((resolve, reject) => {
    const req = httpsGet(`https://${addr}/dashboard/config.json`, { ca: tls.ca, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', reject);
  });
}
