import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findCycles } from './lint-cycles.ts';
import { checkFile, checkSources, isTestCode, MAX_FILE_LINES, OVERSIZE_ALLOWED } from './lint.ts';

test('core purity: clocks, timers, randomness and node:* in src/raft are rejected', () => {
  const bad = [
    "import { readFileSync } from 'node:fs';",
    'const t = Date.now();',
    'setTimeout(() => {}, 1);',
    'const r = Math.random();',
    'const p = performance.now();',
    'const e = process.env.X;',
  ];
  for (const line of bad) {
    assert.equal(checkFile('raft/x.ts', line).length, 1, line);
  }
  assert.deepEqual(checkFile('raft/x.ts', '// Date.now() is never called here\nconst a = 1;'), []);
  assert.deepEqual(checkFile('raft/x.test.ts', "import { test } from 'node:test';"), []);
});

test('the core may import the pure util files, which are held to its rules, and no other', () => {
  assert.deepEqual(checkFile('raft/log.ts', "import { assert } from '../util/assert.ts';"), []);
  assert.equal(checkFile('raft/log.ts', "import { BinaryWriter } from '../util/bytes.ts';").length, 1);
  assert.equal(checkFile('util/assert.ts', 'const t = Date.now();').length, 1);
  assert.deepEqual(checkFile('util/bytes.ts', "import { Buffer } from 'node:buffer';"), []);
});

test('one assertion helper: production code neither imports node:assert nor throws ad-hoc assertions', () => {
  assert.equal(checkFile('server/x.ts', "import assert from 'node:assert/strict';").length, 1);
  assert.equal(checkFile('kv/x.ts', "import { ok } from 'node:assert';").length, 1);
  assert.equal(checkFile('server/x.ts', "if (a) throw new Error('assertion: two proposals');").length, 1);
  assert.equal(checkFile('cli/x.ts', 'if (a) throw new Error(`assert: ${a}`);').length, 1);
  assert.deepEqual(checkFile('server/x.test.ts', "import assert from 'node:assert/strict';"), []);
  assert.deepEqual(checkFile('server/itest/proc.ts', "import assert from 'node:assert/strict';"), []);
  assert.deepEqual(checkFile('server/x.ts', "import { assert } from '../util/assert.ts';"), []);
});

test('layering: imports must point down the stack', () => {
  assert.equal(checkFile('raft/node.ts', "import type { X } from '../kv/machine.ts';").length, 1);
  assert.equal(checkFile('storage/wal.ts', "import { y } from '../server/node.ts';").length, 1);
  assert.equal(checkFile('client/index.ts', "import { y } from '../server/node.ts';").length, 1);
  assert.equal(checkFile('kv/x.ts', "import {\n  a,\n  b,\n} from '../server/node.ts';").length, 1);
  assert.deepEqual(
    checkFile('server/x.ts', "export const BIN = new URL('../../bin/leasekv.mjs', import.meta.url);"),
    [],
  );
  assert.deepEqual(checkFile('server/node.ts', "import { RaftNode } from '../raft/node.ts';"), []);
  assert.deepEqual(checkFile('storage/wal.ts', "import type { Entry } from '../raft/types.ts';"), []);
  assert.deepEqual(checkFile('cli/main.ts', "import { Client } from '../client/index.ts';"), []);
});

test('core purity: packages, fetch and globalThis in src/raft are rejected', () => {
  assert.deepEqual(
    checkFile('raft/x.ts', "import fc from 'fast-check';").map((v) => v.message),
    ['consensus core imports a package (fast-check)'],
  );
  assert.equal(checkFile('raft/x.ts', "const m = await import('pino');").length, 1);
  assert.equal(checkFile('raft/x.ts', "export { a } from 'some-lib';").length, 1);
  assert.equal(checkFile('raft/x.ts', "void fetch('http://127.0.0.1:1/');").length, 1);
  assert.equal(checkFile('raft/x.ts', 'const g = globalThis;').length, 1);
  assert.equal(checkFile('raft/x.ts', "console.log('x');").length, 1);
  assert.deepEqual(checkFile('raft/x.test.ts', "import fc from 'fast-check';"), []);
  assert.deepEqual(checkFile('storage/x.ts', "import fc from 'fast-check';"), []);
  // An import written inside a string is not an import.
  assert.deepEqual(checkFile('raft/x.ts', `const s = "import fc from 'fast-check';";`), []);
});

test('test kits: production code may not import them; test code may', () => {
  assert.equal(isTestCode('raft/testkit.ts'), true);
  assert.equal(isTestCode('server/api/test-util.ts'), true);
  assert.equal(isTestCode('server/api/fake-backend.ts'), true);
  assert.equal(isTestCode('bench/api-serve-fake.ts'), true);
  assert.equal(isTestCode('server/itest/harness.ts'), true);
  assert.equal(isTestCode('transport/test-helpers.ts'), true);
  assert.equal(isTestCode('cli/test-cluster.ts'), true);
  assert.equal(isTestCode('storage/faulty_fs.ts'), false);
  assert.equal(isTestCode('check/latest.ts'), false);
  assert.equal(isTestCode('server/api/server.ts'), false);
  const kitImport = "import { FakeBackend } from './api/fake-backend.ts';";
  assert.deepEqual(
    checkFile('server/node.ts', kitImport).map((v) => v.message),
    ['production code imports test code (./api/fake-backend.ts)'],
  );
  assert.equal(checkFile('raft/node.ts', "import { Cluster } from './testkit.ts';").length, 1);
  assert.equal(checkFile('server/api/x.ts', "import { startApi } from './test-util.ts';").length, 1);
  assert.equal(checkFile('bench/x.ts', "import { startCluster } from '../server/itest/harness.ts';").length, 1);
  assert.deepEqual(checkFile('server/node.test.ts', kitImport), []);
  assert.deepEqual(checkFile('server/itest/harness.ts', "import { x } from '../api/fake-backend.ts';"), []);
  assert.deepEqual(checkFile('server/api/test-util.ts', "import { FakeBackend } from './fake-backend.ts';"), []);
});

test('src/testkit is test code: tests of every layer and the benchmark may use it, production code may not', () => {
  assert.equal(isTestCode('testkit/cluster.ts'), true);
  assert.equal(isTestCode('testkit/wait.ts'), true);
  const kit = "import { waitFor } from '../testkit/wait.ts';";
  assert.deepEqual(
    checkFile('server/x.ts', kit).map((v) => v.message),
    ['server/ may not import testkit/ (../testkit/wait.ts)', 'production code imports test code (../testkit/wait.ts)'],
  );
  assert.equal(checkFile('cli/commands/x.ts', "import { freePort } from '../../testkit/wait.ts';").length, 2);
  assert.deepEqual(checkFile('transport/x.test.ts', kit), []);
  assert.deepEqual(checkFile('cli/test-cluster.ts', kit), []);
  assert.deepEqual(
    checkFile('server/itest/harness.ts', "import { ProcessCluster } from '../../testkit/cluster.ts';"),
    [],
  );
  assert.deepEqual(checkFile('bench/systems.ts', "import { ProcessCluster } from '../testkit/cluster.ts';"), []);
  assert.equal(checkFile('testkit/cluster.ts', "import { run } from '../cli/commands/up.ts';").length, 1);
  assert.deepEqual(checkFile('testkit/cluster.ts', "import { serveArgs } from '../server/serve-args.ts';"), []);
});

test('import cycles between files are rejected, type-only imports included', () => {
  const files = new Map([
    ['raft/a.ts', "import { b } from './b.ts';\nexport const a = 1;"],
    ['raft/b.ts', "import type { C } from './c.ts';\nexport const b = 1;"],
    ['raft/c.ts', "import { a } from './a.ts';\nexport type C = number;"],
    ['raft/d.ts', "import { a } from './a.ts';"],
  ]);
  assert.deepEqual(
    checkSources(files).map((v) => v.message),
    ['import cycle: raft/a.ts → raft/b.ts → raft/c.ts → raft/a.ts'],
  );
  files.set('raft/c.ts', 'export type C = number;');
  assert.deepEqual(checkSources(files), []);
  assert.deepEqual(findCycles(new Map([['x', ['x']]])), [{ files: ['x'], cycle: ['x', 'x'] }]);
  // Two cycles are two violations; a re-export is an edge too.
  const two = new Map([
    ['storage/fs.ts', "export { FaultyFs } from './faulty_fs.ts';"],
    ['storage/faulty_fs.ts', "import type { FileSystem } from './fs.ts';"],
    ['raft/leader.ts', "import { becomeFollower } from './election.ts';"],
    ['raft/election.ts', "import { becomeLeader } from './leader.ts';"],
  ]);
  assert.equal(checkSources(two).length, 2);
});

test('a comment may cite only documents inside the repository', () => {
  const repo = new Set(['docs/design.md', 'README.md', 'src/check/README.md']);
  const opts = { repoFileExists: (p: string) => repo.has(p) };
  assert.deepEqual(checkFile('raft/x.ts', '// see docs/design.md and README.md\nconst a = 1;', opts), []);
  assert.deepEqual(checkFile('check/x.ts', '/* the corpus (README.md, ./README.md) */', opts), []);
  assert.deepEqual(
    checkFile('server/x.ts', 'const a = 1; // the lease rule (lease-notes.md case 7)', opts).map((v) => v.message),
    ['comment cites lease-notes.md, which is not in the repository'],
  );
  assert.equal(checkFile('server/x.ts', '/**\n * toolchain-notes.md says so\n */', opts)[0]?.line, 2);
  // A URL points outside on purpose, and a string is not a comment.
  assert.deepEqual(checkFile('server/x.ts', '// https://github.com/etcd-io/raft/blob/main/README.md', opts), []);
  assert.deepEqual(checkFile('server/x.ts', "const hint = 'see ops.md';", opts), []);
});

test('file size: no source file over MAX_FILE_LINES lines, generated code and the temporary allowlist aside', () => {
  const text = (n: number): string => 'const a = 1;\n'.repeat(n);
  assert.deepEqual(checkFile('server/x.ts', text(MAX_FILE_LINES)), []);
  assert.deepEqual(
    checkFile('server/x.ts', text(MAX_FILE_LINES + 1)).map((v) => v.message),
    [`${MAX_FILE_LINES + 1} lines: a source file has at most ${MAX_FILE_LINES} (split it along its seams)`],
  );
  assert.equal(checkFile('server/x.test.ts', text(MAX_FILE_LINES + 1)).length, 1);
  assert.equal(checkFile('server/x.ts', text(MAX_FILE_LINES) + 'const b = 2;').length, 1);
  assert.deepEqual(checkFile('gen/leasekv/v1/kv_pb.ts', text(MAX_FILE_LINES + 1)), []);
  for (const path of OVERSIZE_ALLOWED) assert.deepEqual(checkFile(path, text(MAX_FILE_LINES + 1)), [], path);
});
