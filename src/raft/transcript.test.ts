// Readable transcripts (testdata/raft/*.txt, the language in testdata/raft/README.md): each file is
// run on a fresh TestCluster and every command's output must match the text below it. When
// behaviour changes on purpose: `REWRITE=1 node scripts/test.mjs src/raft/transcript` writes the
// actual outputs into the files; read the diff before committing it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatTranscript, parseTranscript, runTranscript, type TranscriptCase } from './testkit-transcript.ts';

const DIR = fileURLToPath(new URL('../../testdata/raft/', import.meta.url));
const REWRITE = process.env['REWRITE'] === '1';

/** The file as it would be with the actual outputs, and the commands whose output differs. */
function check(text: string): { actual: string; mismatches: string[] } {
  const { cases, trailer } = parseTranscript(text);
  const outputs = runTranscript(cases);
  const mismatches: string[] = [];
  const updated: TranscriptCase[] = cases.map((c, i) => {
    const expected = outputs[i] ?? [];
    if (expected.join('\n') !== c.expected.join('\n')) mismatches.push(`line ${c.line}: ${c.command}`);
    return { ...c, expected };
  });
  return { actual: formatTranscript(updated, trailer), mismatches };
}

const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.txt'))
  .sort();

test('there are transcripts to run', () => {
  assert.ok(files.length >= 5, `testdata/raft holds ${files.length} transcripts`);
});

for (const file of files) {
  test(`transcript ${file}`, () => {
    const path = `${DIR}${file}`;
    const text = readFileSync(path, 'utf8');
    const { actual, mismatches } = check(text);
    if (REWRITE) {
      if (actual !== text) writeFileSync(path, actual);
      return;
    }
    // The whole file, so that the diff shows every command that changed.
    assert.equal(actual, text, `testdata/raft/${file}: output differs at ${mismatches.join('; ')}`);
  });
}

test('the runner catches a wrong expected output and keeps comments on a rewrite', () => {
  const good = ['# a comment', 'cluster a b c', '----', 'ok', '', 'tick 1100', '----'];
  const { actual } = check(`${good.join('\n')}\nnothing happened\n`);
  const { cases } = parseTranscript(actual);
  assert.equal(cases.length, 2);
  assert.deepEqual(cases[0]?.preamble, ['# a comment']);
  assert.ok(cases[1]?.expected.some((l) => /a role role=leader term=1/.test(l)));
  const wrong = check(actual.replace('role=leader term=1', 'role=leader term=7'));
  assert.deepEqual(wrong.mismatches, ['line 6: tick 1100']);
  assert.equal(wrong.actual, actual);
  // A rewrite of a correct file changes nothing.
  assert.equal(check(actual).actual, actual);
  assert.deepEqual(check(actual).mismatches, []);
});

test('a bad command is reported in its output, and a command without ---- is refused', () => {
  const { actual } = check('frobnicate a\n----\n');
  assert.match(actual, /error: unknown command 'frobnicate'/);
  assert.throws(() => parseTranscript('cluster a\nok\n'), /'----' expected after 'cluster a'/);
});
