// `npm run chaos`: Jepsen-style runs on real processes, one seed after another (docs/chaos.md).
// Ctrl-C (or SIGTERM) kills the cluster of the run in progress and exits 130; the node processes
// are also killed by src/testkit/proc.ts's exit hook whatever happens.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from '../harness.ts';
import { ChaosArgsError, parseChaosArgs, USAGE, type ChaosArgs } from './args.ts';
import { runChaos, type RunSummary } from './run.ts';
import { privateDisksUnavailable } from './disks.ts';

function line(s: RunSummary): string {
  const j = s.judgement;
  const ops = Object.entries(s.ops)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const faults = Object.entries(s.faults)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const probes = Object.entries(s.probes)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const kinds = [...new Set(j.findings.map((f) => f.kind))].join(', ');
  return (
    `seed ${s.seed}: ${j.check.verdict} (${j.check.opsChecked} ops checked in ${Math.round(j.check.elapsedMs)} ms), ` +
    `${j.setAcked} set writes acknowledged, max recovery ${j.maxRecoveryMs} ms, ` +
    `${j.findings.length === 0 ? 'no findings' : `FINDINGS: ${kinds}`}\n  ops: ${ops}\n  faults: ${faults}\n  probes answered: ${probes || '-'}`
  );
}

/** The first few findings of each kind (all of them are in summary.json). */
function printFindings(s: RunSummary): void {
  const shown = new Map<string, number>();
  for (const f of s.judgement.findings) {
    const n = (shown.get(f.kind) ?? 0) + 1;
    shown.set(f.kind, n);
    if (n <= 3) console.log(`  ${f.kind}: ${f.detail.split('\n').slice(0, 30).join('\n    ')}`);
  }
  for (const [kind, n] of shown) if (n > 3) console.log(`  … ${n - 3} more ${kind}`);
}

async function main(args: ChaosArgs): Promise<number> {
  let current: Cluster | null = null;
  let stopping = false;
  const stop = (): void => {
    if (stopping) process.exit(130);
    stopping = true;
    console.error('chaos: stopping, killing the cluster');
    void (current?.close(true) ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  mkdirSync(args.outDir, { recursive: true });
  const results: RunSummary[] = [];
  for (let i = 0; i < args.seeds && !stopping; i++) {
    const seed = args.firstSeed + i;
    const s = await runChaos({
      seed,
      durationMs: args.durationS * 1000,
      nodes: args.nodes,
      clients: args.clients,
      nemeses: args.nemeses,
      dir: join(args.outDir, `seed-${seed}`),
      checkTimeoutMs: args.checkTimeoutS * 1000,
      keepData: args.keepData,
      lock: true,
      onCluster: (c) => (current = c),
      stopped: () => stopping,
      say: (l) => console.log(l),
    });
    current = null;
    results.push(s);
    console.log(line(s));
    printFindings(s);
    if (s.judgement.findings.length > 0 && args.stopOnFinding) break;
  }
  const bad = results.filter((s) => s.judgement.findings.length > 0);
  const undecided = results.filter((s) => s.judgement.check.verdict === 'unknown');
  const text = [
    `chaos: ${results.length} seeds, ${bad.length} with findings (${bad.map((s) => s.seed).join(' ') || '-'}), ` +
      `${undecided.length} undecided checks (${undecided.map((s) => s.seed).join(' ') || '-'})`,
    ...results.map(line),
  ].join('\n');
  writeFileSync(join(args.outDir, 'summary.txt'), text + '\n');
  console.log(`${text.split('\n')[0]}; results in ${args.outDir}`);
  return bad.length > 0 ? 1 : undecided.length > 0 ? 3 : 0;
}

let args: ChaosArgs;
try {
  args = parseChaosArgs(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof ChaosArgsError)) throw e;
  if (e.message !== 'help') console.error(`chaos: ${e.message}`);
  console.error(USAGE);
  process.exit(e.message === 'help' ? 0 : 2);
}
// `disk` needs a mount namespace of each member's own (root): left out of the default mix without
// it, refused when asked for by name.
const noDisks = args.nemeses.includes('disk') ? privateDisksUnavailable() : null;
if (noDisks !== null) {
  if (process.argv.some((a) => a.startsWith('--nemesis'))) {
    console.error(`chaos: the disk nemesis ${noDisks}`);
    process.exit(2);
  }
  console.error(`chaos: leaving the disk nemesis out: it ${noDisks}`);
  args = { ...args, nemeses: args.nemeses.filter((n) => n !== 'disk') };
}
main(args).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
