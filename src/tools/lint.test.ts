import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkFile } from './lint.ts';

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

test('layering: imports must point down the stack', () => {
  assert.equal(checkFile('raft/node.ts', "import type { X } from '../kv/machine.ts';").length, 1);
  assert.equal(checkFile('storage/wal.ts', "import { y } from '../server/node.ts';").length, 1);
  assert.equal(checkFile('client/index.ts', "import { y } from '../server/node.ts';").length, 1);
  assert.equal(checkFile('kv/x.ts', "import {\n  a,\n  b,\n} from '../server/node.ts';").length, 1);
  assert.deepEqual(checkFile('server/x.ts', "export const BIN = new URL('../../bin/leasekv.mjs', import.meta.url);"), []);
  assert.deepEqual(checkFile('server/node.ts', "import { RaftNode } from '../raft/node.ts';"), []);
  assert.deepEqual(checkFile('storage/wal.ts', "import type { Entry } from '../raft/types.ts';"), []);
  assert.deepEqual(checkFile('cli/main.ts', "import { Client } from '../client/index.ts';"), []);
});
