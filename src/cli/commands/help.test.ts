// Every --help exits 0 and prints usage on stdout (issue 10): the top level, every subcommand,
// `npm run bench -- --help` and `npm run sim -- --help`; and mistyped flags of the commands with
// their own parsers (serve, bench, sim) are suggested.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = `${ROOT}bin/leasekv.mjs`;

function node(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { cwd: ROOT, timeout: 120_000 /* only a hang: tsx start-up under load */ },
      (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
      },
    );
  });
}

test('every --help exits 0 with usage on stdout', async () => {
  // Every command the top-level usage lists (so a command added later is covered too).
  const top = await node([BIN, '--help']);
  const COMMANDS = [...top.stdout.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]!);
  assert.ok(COMMANDS.length >= 10 && COMMANDS.includes('put') && COMMANDS.includes('wal'), top.stdout);
  const runs: [string, string[], RegExp][] = [
    ['leasekv --help', [BIN, '--help'], /^usage: leasekv <command>/],
    ['leasekv help', [BIN, 'help'], /^usage: leasekv <command>/],
    ['leasekv help put', [BIN, 'help', 'put'], /^usage: leasekv put/],
    ...COMMANDS.map((c): [string, string[], RegExp] => [
      `leasekv ${c} --help`,
      [BIN, c, '--help'],
      new RegExp(`usage: leasekv ${c}`),
    ]),
    ['leasekv get -h', [BIN, 'get', 'k', '-h'], /^usage: leasekv get/],
    ['leasekv wal inspect --help', [BIN, 'wal', 'inspect', '--help'], /^usage: leasekv wal inspect/],
    ['npm run bench -- --help', ['--import', 'tsx', 'src/bench/main.ts', '--help'], /^usage: npm run bench/],
    ['npm run sim -- --help', ['--import', 'tsx', 'src/sim/main.ts', '--help'], /^usage: npm run sim/],
  ];
  // A command that talks to a cluster lists the common options in its --help, the groups' too
  // (session 13 outside-in audit: leader, member, role and user did not mention --endpoints).
  const local = new Set(['serve', 'up', 'wal', 'check']);
  const clientHelp = new Set(COMMANDS.filter((c) => !local.has(c)).map((c) => `leasekv ${c} --help`));
  // Two at a time: each run starts tsx.
  for (let i = 0; i < runs.length; i += 2) {
    const batch = runs.slice(i, i + 2);
    const results = await Promise.all(batch.map(([, args]) => node(args)));
    results.forEach((r, k) => {
      const [what, , usage] = batch[k]!;
      assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stdout, usage, what);
      if (clientHelp.has(what))
        assert.equal(r.stdout.match(/^common options:/gm)?.length, 1, `${what}: common options once`);
    });
  }
});

test('serve, bench and sim suggest the nearest flag; usage errors exit 2', async () => {
  const [serve, bench, sim] = await Promise.all([
    node([BIN, 'serve', '--id', 'n1', '--peer', 'n1=127.0.0.1:1']),
    node(['--import', 'tsx', 'src/bench/main.ts', '--nodse', '3']),
    node(['--import', 'tsx', 'src/sim/main.ts', '--seds', '3']),
  ]);
  assert.equal(serve.code, 2, serve.stderr);
  assert.match(serve.stderr, /unknown option '--peer'; did you mean --peers\?/);
  assert.equal(bench.code, 2, bench.stderr);
  assert.match(bench.stderr, /unknown option '--nodse'; did you mean --nodes\?/);
  assert.equal(sim.code, 2, sim.stderr);
  assert.match(sim.stderr, /unknown argument "--seds"; did you mean --seeds\?/);
});
