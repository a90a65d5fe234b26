// A node:test reporter that prints, once every file has run, the slowest test files and tests:
// where the suite's time goes (scripts/test.mjs adds it beside the spec reporter).
import { relative } from 'node:path';

const SHOWN = 12;

export default async function* slowest(source) {
  const tests = [];
  for await (const ev of source) {
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
  ].join('\n');
}
