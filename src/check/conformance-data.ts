// Test support: the conformance histories (testdata/conformance/linearizability, README.md there).
// Used by the conformance tests and benchmarks only.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkHistorySync, type CheckResult } from './checker.ts';
import { parseJepsenKv, parseJepsenRegister } from './jepsen.ts';

// The repo root is two levels above src/check; the corpus is kept inside the repo.
export const CONFORMANCE_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'testdata',
  'conformance',
  'linearizability',
);

export interface ConformanceRow {
  readonly file: string;
  readonly model: 'register-cas' | 'kv-get-put-append';
  readonly expected: 'linearizable' | 'not-linearizable' | 'no-published-verdict';
}

export function conformanceRows(): ConformanceRow[] {
  const lines = readFileSync(join(CONFORMANCE_DIR, 'expected.tsv'), 'utf8').trim().split('\n').slice(1);
  return lines.map((l) => {
    const [file, model, expected] = l.split('\t');
    if (
      file === undefined ||
      (model !== 'register-cas' && model !== 'kv-get-put-append') ||
      (expected !== 'linearizable' && expected !== 'not-linearizable' && expected !== 'no-published-verdict')
    ) {
      throw new Error(`expected.tsv: bad row '${l}'`);
    }
    return { file, model, expected };
  });
}

export function checkConformance(row: ConformanceRow, timeoutMs: number): CheckResult {
  const text = readFileSync(join(CONFORMANCE_DIR, row.file), 'utf8');
  if (row.model === 'register-cas')
    return checkHistorySync(parseJepsenRegister(text), { timeoutMs, model: 'register' });
  return checkHistorySync(parseJepsenKv(text), { timeoutMs, model: 'kv' });
}
