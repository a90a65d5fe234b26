// The package as published: `npm pack`, then a fresh app installs the tarball (offline, from the
// npm cache that `npm ci` filled) and uses `leasekv/client` from plain Node and from a TypeScript
// app compiled with module NodeNext; the installed `leasekv` command answers --help and serves, from
// the compiled build (docs/api.md, "Using the client from an app").
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../testkit/wait.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Every step is bounded: a stuck npm fails the test instead of hanging it (generous: a loaded machine is slow). */
const STEP_TIMEOUT_MS = 180_000;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(cmd: string, args: readonly string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd, timeout: STEP_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 << 20, env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({
          code,
          stdout,
          stderr: err !== null && err.killed ? `${stderr}\n(killed after ${STEP_TIMEOUT_MS} ms)` : stderr,
        });
      },
    );
  });
}

function ok(r: Run, what: string): string {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Starts one insecure node with the installed command, writes and reads a key, fetches the dashboard, stops it. */
async function servesCompiled(bin: string, app: string): Promise<void> {
  const [client, peer] = await freePorts(2);
  const node = spawn(
    bin,
    [
      'serve',
      '--insecure',
      '--id',
      'n1',
      '--data-dir',
      join(app, 'data'),
      '--listen-client',
      `127.0.0.1:${client}`,
      '--listen-peer',
      `127.0.0.1:${peer}`,
      '--peers',
      `n1=127.0.0.1:${peer}`,
      '--cluster-token',
      'package-test',
    ],
    { cwd: app, env: { ...process.env, LEASEKV_RUN: 'compiled' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  node.stdout.on('data', (d: Buffer) => (log += d.toString()));
  node.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => node.once('exit', () => resolve()));
  try {
    const base = `http://127.0.0.1:${client}`;
    const put = JSON.stringify({ key: 'k', value: 'compiled' });
    const headers = { 'content-type': 'application/json' };
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      const r = await fetch(`${base}/leasekv.v1.KV/Put`, { method: 'POST', headers, body: put }).catch(() => null);
      if (r?.status === 200) break;
      assert.ok(node.exitCode === null && Date.now() < deadline, `the packed node did not serve a Put:\n${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const got = await fetch(`${base}/leasekv.v1.KV/Get`, { method: 'POST', headers, body: '{"key":"k"}' });
    assert.equal(((await got.json()) as { value?: string }).value, 'compiled');
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200, `dashboard: ${page.status}`);
    assert.match(await page.text(), /<html/i);
  } finally {
    node.kill('SIGTERM');
    const timer = setTimeout(() => node.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
}

interface LockEntry {
  readonly dev?: boolean;
  readonly dependencies?: Record<string, string>;
  readonly [field: string]: unknown;
}

/**
 * A lockfile for the app: the tarball, leasekv's own dependency tree as locked in this repository,
 * and @types/node (a dev dependency) for the TypeScript app. With a lockfile `npm ci --offline`
 * needs only the tarballs in the cache, not the registry's metadata.
 */
function appLock(tarball: string, typesNodeRange: string): object {
  const repoLock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
    license: string;
    dependencies: Record<string, string>;
    bin: object;
    engines: object;
  };
  const spec = `file:${tarball}`;
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  const packages: Record<string, object> = {
    '': { name: 'app', dependencies: { leasekv: spec }, devDependencies: { '@types/node': typesNodeRange } },
    'node_modules/leasekv': {
      version: pkg.version,
      resolved: spec,
      integrity,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  for (const [path, entry] of Object.entries(repoLock.packages)) {
    if (path !== '' && entry.dev !== true) packages[path] = entry;
  }
  const pending = ['@types/node'];
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    const path = `node_modules/${name}`;
    const entry = repoLock.packages[path];
    assert.ok(entry !== undefined, `${path} is not in package-lock.json`);
    if (path in packages) continue;
    packages[path] = { ...entry, dev: true };
    pending.push(...Object.keys(entry.dependencies ?? {}));
  }
  return { name: 'app', lockfileVersion: 3, requires: true, packages };
}

const PLAIN_NODE_APP = `
import * as client from 'leasekv/client';
const kv = new client.LeasekvClient({ endpoints: ['127.0.0.1:7001'] });
const closing = kv.close();
if (!(closing instanceof Promise)) throw new Error('close() did not return a Promise');
await closing;
console.log(JSON.stringify(Object.keys(client).sort()));
`;

const TS_APP = `
import { DeadlineExceededError, LeasekvClient, LeasekvError, NotLeaderError, type GetResult, type LeasekvClientOptions, type NodeStatus } from 'leasekv/client';

const options: LeasekvClientOptions = { endpoints: ['127.0.0.1:7001'], deadlineMs: 1000 };
const kv = new LeasekvClient(options);

export async function read(key: string): Promise<string | undefined> {
  try {
    const r: GetResult = await kv.get(key, { consistency: 'stale' });
    return r.found ? r.value : undefined;
  } catch (err) {
    if (err instanceof NotLeaderError) return err.leaderAddr;
    if (err instanceof DeadlineExceededError || err instanceof LeasekvError) return err.code;
    throw err;
  } finally {
    const closed: Promise<void> = kv.close();
    await closed;
  }
}

// Every typed error says whether a write may have been applied (docs/api.md, "Outcome unknown").
export async function write(key: string): Promise<'applied' | 'not applied' | 'maybe applied'> {
  try {
    await kv.put(key, 'v');
    return 'applied';
  } catch (err) {
    if (!(err instanceof LeasekvError)) throw err;
    const unknown: boolean = err.outcomeUnknown;
    return unknown ? 'maybe applied' : 'not applied';
  }
}

export async function leader(): Promise<NodeStatus['leader']> {
  return (await kv.status()).leader;
}
`;

const TS_CONFIG = {
  compilerOptions: {
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    target: 'ES2022',
    lib: ['ES2022'],
    types: ['node'],
    strict: true,
    noEmit: true,
  },
  files: ['app.ts'],
};

/**
 * An older-style TypeScript app: `"module": "commonjs"` resolves packages the node10 way, which
 * ignores `exports`, so the types come from `typesVersions` in package.json.
 */
const TS_CONFIG_COMMONJS = {
  compilerOptions: { ...TS_CONFIG.compilerOptions, module: 'commonjs', moduleResolution: 'node10' },
  files: ['app-cjs.ts'],
};

/** A CommonJS file: Node 20.19+ loads the ESM-only client through require(). */
const REQUIRE_APP = `
const client = require('leasekv/client');
console.log(typeof client.LeasekvClient);
`;

test(
  'npm pack → install offline → plain Node, NodeNext and commonjs TypeScript apps, require() and the leasekv command',
  { timeout: 5 * STEP_TIMEOUT_MS },
  async (t) => {
    const tmp = mkdtempSync(join(tmpdir(), 'leasekv-package-'));
    t.after(() => rmSync(tmp, { recursive: true, force: true }));

    // prepack builds dist/ first.
    ok(await run('npm', ['pack', '--pack-destination', tmp, '--silent'], ROOT), 'npm pack');
    const tarballs = readdirSync(tmp).filter((f) => f.endsWith('.tgz'));
    assert.equal(tarballs.length, 1, `one tarball expected, got ${tarballs.join(', ')}`);
    const tarball = join(tmp, tarballs[0]!);

    const app = join(tmp, 'app');
    const rootPkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    const typesNode = rootPkg.devDependencies['@types/node']!;
    const appPkg = {
      name: 'app',
      private: true,
      type: 'module',
      dependencies: { leasekv: `file:${tarball}` },
      devDependencies: { '@types/node': typesNode },
    };
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify(appPkg, null, 2));
    writeFileSync(join(app, 'package-lock.json'), JSON.stringify(appLock(tarball, typesNode), null, 2));
    const install = ['ci', '--no-audit', '--no-fund', '--ignore-scripts'];
    let installed = await run('npm', [...install, '--offline'], app);
    // A cache emptied since `npm ci`: fetch what is missing (still bounded by STEP_TIMEOUT_MS).
    if (installed.code !== 0 && /ENOTCACHED/.test(installed.stderr))
      installed = await run('npm', [...install, '--prefer-offline'], app);
    ok(installed, 'npm ci in the app');

    // (a) Plain Node: compiled JavaScript behind the export.
    writeFileSync(join(app, 'main.mjs'), PLAIN_NODE_APP);
    const names = JSON.parse(ok(await run(process.execPath, ['main.mjs'], app), 'node main.mjs')) as string[];
    // Exactly the runtime exports of the sources.
    assert.deepEqual(names, Object.keys(await import('./index.ts')).sort());
    for (const name of ['LeasekvClient', 'LeasekvError', 'NotLeaderError', 'DeadlineExceededError'])
      assert.ok(names.includes(name), name);

    // (b) A strict NodeNext TypeScript app type-checks against the published declarations only.
    writeFileSync(join(app, 'app.ts'), TS_APP);
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(TS_CONFIG, null, 2));
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const listed = ok(await run(process.execPath, [tsc, '-p', app, '--listFiles'], app), 'tsc (NodeNext app)');
    assert.match(listed, /node_modules\/leasekv\/dist\/client\/index\.d\.ts/);
    assert.ok(!/leasekv\/src\//.test(listed), `the app's compile reached leasekv's sources:\n${listed}`);

    // (b2) The same app under `"module": "commonjs"` (node10 resolution) finds the same declarations,
    // and plain CommonJS require()s the client.
    mkdirSync(join(app, 'cjs'));
    writeFileSync(join(app, 'cjs', 'package.json'), JSON.stringify({ type: 'commonjs' }));
    writeFileSync(join(app, 'cjs', 'app-cjs.ts'), TS_APP);
    writeFileSync(join(app, 'cjs', 'tsconfig.json'), JSON.stringify(TS_CONFIG_COMMONJS, null, 2));
    const cjsListed = ok(
      await run(process.execPath, [tsc, '-p', join(app, 'cjs'), '--listFiles'], app),
      'tsc (commonjs app)',
    );
    assert.match(cjsListed, /node_modules\/leasekv\/dist\/client\/index\.d\.ts/);
    writeFileSync(join(app, 'cjs', 'main.cjs'), REQUIRE_APP);
    const required = ok(await run(process.execPath, [join(app, 'cjs', 'main.cjs')], app), 'node main.cjs');
    assert.equal(required.trim(), 'function');

    // (c) The installed command runs, from the compiled build: dist/ matches the shipped sources
    // (bin/compiled.mjs; LEASEKV_RUN=compiled refuses to fall back to the sources through tsx).
    const bin = join(app, 'node_modules', '.bin', 'leasekv');
    const help = ok(await run(bin, ['--help'], app, { LEASEKV_RUN: 'compiled' }), 'leasekv --help');
    assert.match(help, /usage: leasekv <command>/);

    // (d) A node of the packed install serves from the compiled build: its worker threads (the WAL's,
    // the client API's) and the dashboard's files are loaded from dist/.
    await servesCompiled(bin, app);
  },
);
