// The shared CLI machinery (issue 10): typo suggestions, endpoints, -w formats, quoting, values
// from stdin or a file.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  field,
  MAX_INPUT_BYTES,
  parse,
  parseEndpoints,
  readValue,
  renderTable,
  UsageError,
  ValueInputError,
} from './common.ts';

function usageError(f: () => unknown, why: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof UsageError && why.test(e.message));
}

test('a mistyped flag names the nearest known flag', () => {
  const extra = { consistency: { type: 'string' } } as const;
  usageError(() => parse(['k', '--endpoint', 'x'], extra), /^unknown flag --endpoint; did you mean --endpoints\?$/);
  usageError(
    () => parse(['k', '--consistancy=stale'], extra),
    /^unknown flag --consistancy; did you mean --consistency\?$/,
  );
  usageError(() => parse(['k', '--writeout', 'json'], extra), /did you mean --write-out\?/);
  usageError(() => parse(['k', '-endpoints', 'x'], extra), /unknown flag -endpoints; did you mean --endpoints\?/);
  usageError(
    () => parse(['k', '--frobnicate'], extra),
    /^unknown flag --frobnicate \(known: --endpoints .*--consistency -w -h\)$/,
  );
  usageError(() => parse(['k', '-x'], extra), /^unknown flag -x/);
  usageError(() => parse(['k', '-5'], extra), /a value starting with '-' goes after --/);
  // A flag's value and everything after -- are not flags.
  assert.deepEqual(parse(['k', '--consistency', 'stale', '--', '-5', '--endpoint'], extra).positionals, [
    'k',
    '-5',
    '--endpoint',
  ]);
});

test("the parser's other errors are in our words", () => {
  usageError(() => parse(['k', '--endpoints'], {}), /^flag --endpoints needs a value$/);
  usageError(
    () => parse(['k', '--endpoints', '--help2'], {}),
    /flag --endpoints needs a value \(to give one starting with '-', write --endpoints=VALUE\)/,
  );
  usageError(() => parse(['k', '--absent=yes'], { absent: { type: 'boolean' } }), /^flag --absent takes no value$/);
});

test('endpoints: URLs, IPv6 and host:port from the flag or LEASEKV_ENDPOINTS; https:// is TLS', (t) => {
  assert.deepEqual(parseEndpoints('http://127.0.0.1:7001, [::1]:7002,127.0.0.1:7001'), [
    '127.0.0.1:7001',
    '[::1]:7002',
  ]);
  assert.deepEqual(parseEndpoints('https://127.0.0.1:7001'), ['127.0.0.1:7001']);
  usageError(
    () => parse(['--endpoints', 'https://127.0.0.1:7001,http://127.0.0.1:7002'], {}),
    /--endpoints: both http:\/\/ and https:\/\/ given/,
  );
  usageError(() => parseEndpoints(' , '), /--endpoints is empty/);
  const saved = process.env['LEASEKV_ENDPOINTS'];
  t.after(() =>
    saved === undefined ? delete process.env['LEASEKV_ENDPOINTS'] : (process.env['LEASEKV_ENDPOINTS'] = saved),
  );
  process.env['LEASEKV_ENDPOINTS'] = 'http://[::1]:7001';
  assert.deepEqual(parse([], {}).common.endpoints, ['[::1]:7001']);
  process.env['LEASEKV_ENDPOINTS'] = 'https://a:1';
  assert.deepEqual(parse([], {}).common.tls, {}, 'https:// alone: TLS with the built-in roots');
  assert.deepEqual(parse(['--endpoints', 'http://b:2'], {}).common.endpoints, ['b:2']);
});

test('-w: simple, table, json; unknown or not offered is an error', () => {
  assert.equal(parse([], {}).common.format, 'simple');
  assert.equal(parse(['-w', 'table'], {}).common.format, 'table');
  assert.equal(parse(['--write-out=json'], {}).common.json, true);
  assert.equal(parse([], {}, { defaultFormat: 'table' }).common.format, 'table');
  usageError(
    () => parse(['-w', 'yaml'], {}),
    /^unknown output format 'yaml' for -w\/--write-out \(use one of: simple, table, json\)$/,
  );
  usageError(
    () => parse(['-w', 'simple'], {}, { formats: ['table', 'json'] }),
    /-w simple is not offered by this command \(use one of: table, json\)/,
  );
});

test('field quotes what would break a line; renderTable aligns columns', () => {
  assert.equal(field('plain value'), 'plain value');
  assert.equal(field('a\tb'), '"a\\tb"');
  assert.equal(field('two\nlines'), '"two\\nlines"');
  assert.equal(field('"quoted"'), '"\\"quoted\\""');
  assert.equal(field(''), '""');
  assert.equal(field('bell\x07'), '"bell\\u0007"');
  assert.equal(
    renderTable(
      ['KEY', 'VALUE'],
      [
        ['a', '1'],
        ['long-key', 'x\ty'],
      ],
    ),
    'KEY       VALUE\na         1\nlong-key  "x\\ty"\n',
  );
});

async function* chunks(...parts: (string | Buffer)[]): AsyncGenerator<string | Buffer> {
  yield* parts;
}

test('readValue: argument, stdin (-), --value-file; clear errors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-value-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.equal(await readValue({ arg: 'v', file: undefined, name: 'VALUE' }), 'v');
  assert.equal(
    await readValue({ arg: '-', file: undefined, name: 'VALUE', stdin: chunks('line 1\n', Buffer.from('line 2\n')) }),
    'line 1\nline 2\n',
  );
  const big = 'x'.repeat(500 * 1024);
  writeFileSync(join(dir, 'big'), big);
  assert.equal(await readValue({ arg: undefined, file: join(dir, 'big'), name: 'VALUE' }), big);
  writeFileSync(join(dir, 'bin'), Buffer.from([0xff, 0xfe, 0x00]));
  await assert.rejects(
    readValue({ arg: undefined, file: join(dir, 'bin'), name: 'VALUE' }),
    (e: unknown) => e instanceof ValueInputError && /not valid UTF-8/.test(e.message),
  );
  await assert.rejects(
    readValue({ arg: undefined, file: join(dir, 'missing'), name: 'VALUE' }),
    (e: unknown) => e instanceof ValueInputError && /cannot read --value-file .*ENOENT/.test(e.message),
  );
  await assert.rejects(
    readValue({ arg: undefined, file: dir, name: 'VALUE' }),
    (e: unknown) => e instanceof ValueInputError && /is a folder/.test(e.message),
  );
  await assert.rejects(
    readValue({ arg: 'v', file: join(dir, 'big'), name: 'VALUE' }),
    (e: unknown) => e instanceof UsageError && /not both/.test(e.message),
  );
  const huge = Buffer.alloc(MAX_INPUT_BYTES / 2);
  await assert.rejects(
    readValue({ arg: '-', file: undefined, name: 'VALUE', stdin: chunks(huge, huge, 'x') }),
    (e: unknown) => e instanceof ValueInputError && /larger than/.test(e.message),
  );
});
