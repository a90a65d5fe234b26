// A node:test reporter that prints, once every file has run, the slowest test files and tests:
// where the suite's time goes (scripts/test.mjs adds it beside the spec reporter). It ends by
// repeating the runner's own summary lines (ℹ tests … ℹ duration_ms), so that a log still ends with
// the summary whichever reporter finishes last.
import { relative } from 'node:path';

const SHOWN = 12;
/** The runner's closing diagnostics: 'tests 538', 'pass 538', …, 'duration_ms 334001.4'. */
const SUMMARY = /^(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) [\d.]+$/;

export default async function* slowest(source) {
  const tests = [];
  const summary = [];
  for await (const ev of source) {
    if (ev.type === 'test:diagnostic' && ev.data.nesting === 0 && SUMMARY.test(ev.data.message)) {
      summary.push(`ℹ ${ev.data.message}`);
    }
    if (ev.type !== 'test:pass' && ev.type !== 'test:fail') continue;
    const ms = ev.data.details?.duration_ms;
    if (ev.data.nesting !== 0 || typeof ms !== 'number') continue;
    tests.push({ name: ev.data.name, file: ev.data.file ? relative(process.cwd(), ev.data.file) : '?', ms });
  }
  const byFile = new Map();
  for (const t of tests) byFile.set(t.file, (byFile.get(t.file) ?? 0) + t.ms);
  const sec = (ms) => `${(ms / 1000).toFixed(1).padStart(6)} s`;
  const files = [...byFile].sort((a, b) => b[1] - a[1]).slice(0, SHOWN);
  const slow = tests.sort((a, b) => b.ms - a.ms).slice(0, SHOWN);
  yield [
    '',
    `slowest test files (their tests' time added up; ${byFile.size} files):`,
    ...files.map(([f, ms]) => `${sec(ms)}  ${f}`),
    'slowest tests:',
    ...slow.map((t) => `${sec(t.ms)}  ${t.file}: ${t.name.length > 100 ? `${t.name.slice(0, 99)}…` : t.name}`),
    '',
    ...summary,
    '',
  ].join('\n');
}
