// `leasekv check`: is a recorded history linearizable? Exit codes (issue 3): 0 linearizable,
// 1 not linearizable, 2 unknown (budget exhausted), 3 the file could not be read or parsed.
// Usage errors also exit 3 (nothing could be checked).
import { readFileSync, writeFileSync } from 'node:fs';
import {
  checkHistory,
  formatResult,
  HistoryParseError,
  parseHistoryJsonl,
  parseJepsenKv,
  parseJepsenRegister,
  renderHtml,
} from '../../check/index.ts';
import type { HistoryOp, ModelName } from '../../check/index.ts';
import { parseFlags, UsageError } from './flags.ts';
import { parseFormat } from './output.ts';

const FORMATS = ['jsonl', 'jepsen-register', 'jepsen-kv'] as const;
type Format = (typeof FORMATS)[number];
const DEFAULT_TIMEOUT_MS = 60_000;

const USAGE = `usage: leasekv check [--format jsonl|jepsen-register|jepsen-kv] [--timeout-ms N] [--html FILE] [--workers N] FILE

Checks that a recorded client history is linearizable (docs/history-format.md).
  --format      jsonl (leasekv's format, default), jepsen-register (etcd logs), jepsen-kv (EDN lines)
  --timeout-ms  time budget (default ${DEFAULT_TIMEOUT_MS}); past it the verdict is unknown
  --html FILE   on a violation (or unknown), write a self-contained page with the timeline
  --workers N   worker threads (default: automatic, by history size)
  -w, --write-out F   simple (default: the verdict and, on a violation, the explanation) or json
exit: 0 linearizable, 1 not linearizable, 2 unknown, 3 unreadable or unparsable input`;

const PARSERS: Readonly<Record<Format, { parse: (text: string) => HistoryOp[]; model: ModelName }>> = {
  jsonl: { parse: parseHistoryJsonl, model: 'kv' },
  'jepsen-register': { parse: parseJepsenRegister, model: 'register' },
  'jepsen-kv': { parse: parseJepsenKv, model: 'kv' },
};

function usageError(msg: string): number {
  console.error(`leasekv check: ${msg}\n\n${USAGE}`);
  return 3;
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  let parsed;
  try {
    parsed = parseFlags(argv, {
      format: { type: 'string', default: 'jsonl' },
      'timeout-ms': { type: 'string', default: String(DEFAULT_TIMEOUT_MS) },
      html: { type: 'string' },
      workers: { type: 'string' },
      'write-out': { type: 'string', short: 'w' },
      help: { type: 'boolean', short: 'h' },
    });
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return usageError(e.message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  let json: boolean;
  try {
    json = parseFormat(values['write-out'] ?? 'simple', ['simple', 'json']) === 'json';
  } catch (e) {
    return usageError((e as Error).message);
  }
  const format = values.format as Format;
  if (!(FORMATS as readonly string[]).includes(format)) return usageError(`unknown --format '${format}'`);
  const timeoutMs = Number(values['timeout-ms']);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) return usageError('--timeout-ms must be a positive integer');
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  if (workers !== undefined && !(Number.isSafeInteger(workers) && workers >= 1))
    return usageError('--workers must be a positive integer');
  if (positionals.length !== 1) return usageError('expected exactly one FILE');
  const file = positionals[0] as string;

  let ops: HistoryOp[];
  try {
    ops = PARSERS[format].parse(readFileSync(file, 'utf8'));
  } catch (e) {
    if (e instanceof HistoryParseError) console.error(`leasekv check: ${file}:${e.line}: ${e.reason}`);
    else console.error(`leasekv check: cannot read ${file}: ${(e as Error).message}`);
    return 3;
  }
  const result = await checkHistory(ops, {
    timeoutMs,
    model: PARSERS[format].model,
    ...(workers === undefined ? {} : { workers }),
  });
  // With -w json, stdout holds only the JSON; the notes about --html go to stderr.
  const note = json ? console.error : console.log;
  console.log(json ? JSON.stringify(result, jsonSafe, 2) : formatResult(result));
  if (values.html !== undefined && result.verdict !== 'linearizable') {
    writeFileSync(values.html, renderHtml(result, `leasekv check: ${file}`));
    note(`timeline written to ${values.html}`);
  } else if (values.html !== undefined) {
    note('linearizable: no timeline written');
  }
  return result.verdict === 'linearizable' ? 0 : result.verdict === 'not-linearizable' ? 1 : 2;
}

/** Model states may hold Maps and bigints, which JSON.stringify cannot take as they are. */
function jsonSafe(_key: string, v: unknown): unknown {
  if (v instanceof Map) return Object.fromEntries(v);
  if (v instanceof Set) return [...v];
  if (typeof v === 'bigint') return v.toString();
  return v;
}
