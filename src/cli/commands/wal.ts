// `leasekv wal inspect DIR`: prints what a node's data folder holds — hard state, snapshot metadata,
// segments and log entries — without changing it (a torn tail is reported, not repaired).
import {
  checkDataFormat,
  DATA_FORMAT,
  DataFormatError,
  MIN_DATA_FORMAT,
  readDataFormat,
} from '../../storage/data_format.ts';
import { VERSION } from '../../server/version.ts';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Entry } from '../../raft/types.ts';
import { StorageCorruptError } from '../../storage/errors.ts';
import { RealFs } from '../../storage/fs.ts';
import { recoverDir } from '../../storage/recovery.ts';
import { SNAPSHOT_FILE } from '../../storage/snapshot_file.ts';
import { nearest } from '../../util/suggest.ts';
import { parseFlags, parseFormat, UsageError } from './common.ts';

const USAGE = `usage: leasekv wal inspect DIR [-w table|json] [--limit N] [--from INDEX]

Prints the hard state, snapshot metadata, segments and entries of a node's data folder (read-only).
DIR is one node's --data-dir (with \`leasekv up\`, DATA_DIR/n1 and so on), holding WAL segments
(NNNNNNNNNNNNNNNN.wal) and perhaps ${SNAPSHOT_FILE}; any other folder is an error (exit 1).
  -w, --write-out F   table (default: sections of aligned columns) or json (--output is an alias)
  --limit N           entries to print (default 20; 0 for none)
  --from INDEX        first entry to print (default: the last N entries)`;

const PREVIEW_CHARS = 40;

function preview(e: Entry): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(e.data.subarray(0, PREVIEW_CHARS * 2));
  const printable = text.replace(/[^\x20-\x7e]/g, '.');
  return printable.length > PREVIEW_CHARS ? `${printable.slice(0, PREVIEW_CHARS)}…` : printable;
}

const SEGMENT_RE = /^[0-9a-f]{16}\.wal$/;

/** A node's data folder holds WAL segments or a snapshot; anything else is not one. */
export function isDataDir(dir: string): boolean {
  return readdirSync(dir).some((name) => SEGMENT_RE.test(name) || name === SNAPSHOT_FILE);
}

/** Why `dir` is not a data folder, naming the data folders inside it when there are any. */
export function notDataDirMessage(dir: string): string {
  const inside = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && isDataDir(join(dir, d.name)))
    .map((d) => join(dir, d.name))
    .sort();
  const what = `${dir} is not a node's data folder: it holds no WAL segments (NNNNNNNNNNNNNNNN.wal) and no ${SNAPSHOT_FILE}`;
  if (inside.length === 0) return `${what}; give a node's --data-dir`;
  return `${what}, but it holds data folders: ${inside.join(', ')}; inspect one of them, e.g. leasekv wal inspect ${inside[0]}`;
}

interface InspectArgs {
  readonly dir: string;
  readonly json: boolean;
  readonly limit: number;
  readonly from: number | null;
}

function parseInspect(argv: string[]): InspectArgs {
  const { values, positionals } = parseFlags(argv, {
    'write-out': { type: 'string', short: 'w' },
    output: { type: 'string' },
    limit: { type: 'string' },
    from: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (positionals.length !== 1) throw new UsageError(`expected one DIR, got ${positionals.length} argument(s)`);
  const format = parseFormat(values['write-out'] ?? values.output ?? 'table', ['table', 'json']);
  const limit = Number(values.limit ?? '20');
  if (!(Number.isInteger(limit) && limit >= 0))
    throw new UsageError(`--limit must be a whole number, got '${values.limit}'`);
  const from = values.from === undefined ? null : Number(values.from);
  if (from !== null && !(Number.isInteger(from) && from >= 0))
    throw new UsageError(`--from must be a log index, got '${values.from}'`);
  return { dir: positionals[0]!, json: format === 'json', limit, from };
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'inspect') {
    const guess = nearest(sub, ['inspect']);
    console.error(
      `leasekv wal: unknown subcommand '${sub}'${guess === undefined ? '' : `; did you mean '${guess}'?`}\n\n${USAGE}`,
    );
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  let args: InspectArgs;
  try {
    args = parseInspect(rest);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`leasekv wal: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  const { dir, limit, from } = args;
  const fs = new RealFs();
  if (!fs.exists(dir)) {
    console.error(`leasekv wal: ${dir}: no such folder`);
    return 1;
  }
  if (!statSync(dir).isDirectory()) {
    console.error(`leasekv wal: ${dir}: not a folder (give a node's --data-dir)`);
    return 1;
  }
  if (!isDataDir(dir)) {
    console.error(`leasekv wal: ${notDataDirMessage(dir)}`);
    return 1;
  }
  let r;
  let format: ReturnType<typeof readDataFormat>;
  try {
    // A newer format's records may not be readable here: say so rather than misreport them.
    format = readDataFormat(dir);
    checkDataFormat(dir, VERSION);
    r = recoverDir(fs, dir);
  } catch (e) {
    if (e instanceof DataFormatError) {
      console.error(`leasekv wal: ${e.message}`);
      return 1;
    }
    if (e instanceof StorageCorruptError) {
      if (args.json)
        console.log(JSON.stringify({ corrupt: { file: e.file, offset: e.offset, reason: e.reason } }, null, 2));
      else console.error(`leasekv wal: ${e.message}`);
      return 1;
    }
    throw e;
  }
  const entries = r.log.all();
  const start = from === null ? Math.max(0, entries.length - limit) : Math.max(0, from - r.log.baseIndex - 1);
  const shown = entries.slice(start, start + limit);
  if (args.json) {
    const out = {
      dataFormat: format,
      hardState: r.hardState,
      snapshot: r.snapshot,
      firstIndex: r.log.baseIndex + 1,
      lastIndex: r.log.lastIndex(),
      segments: r.segments,
      tornTail: r.repair,
      entries: shown.map((e) => ({
        index: e.index,
        term: e.term,
        type: e.type === 1 ? 'noop' : 'normal',
        sizeBytes: e.data.length,
        preview: preview(e),
      })),
    };
    console.log(JSON.stringify(out, null, 2));
    return 0;
  }
  const h = r.hardState;
  console.log(`data folder   ${dir}`);
  console.log(
    `data format   ${format === null ? `not recorded (written before leasekv 0.2.0: ${MIN_DATA_FORMAT} to ${DATA_FORMAT})` : `${format.format}, last opened by leasekv ${format.writtenBy || '?'}`}`,
  );
  console.log(`hard state    term ${h.term}, voted for ${h.votedFor ?? '-'}, commit ${h.commit}`);
  console.log(
    `snapshot      ${r.snapshot === null ? 'none' : `index ${r.snapshot.index}, term ${r.snapshot.term}, voters ${r.snapshot.confState.voters.join(',')}${r.snapshot.confState.learners.length > 0 ? `, learners ${r.snapshot.confState.learners.join(',')}` : ''}`}`,
  );
  console.log(`log           entries ${r.log.baseIndex + 1}..${r.log.lastIndex()} (${entries.length})`);
  if (r.repair !== null)
    console.log(
      `torn tail     ${r.repair.file} at byte ${r.repair.offset}: ${r.repair.bytesDropped} bytes (${r.repair.why}); ${r.repair.how === 'zero' ? 'zeroed' : 'truncated'} on next start`,
    );
  console.log('\nsegments');
  console.log(`  ${'name'.padEnd(22)} ${'bytes'.padStart(10)} ${'records'.padStart(8)}  entries`);
  for (const s of r.segments) {
    const span = s.firstEntryIndex === null ? '-' : `${s.firstEntryIndex}..${s.lastEntryIndex}`;
    console.log(`  ${s.name.padEnd(22)} ${String(s.sizeBytes).padStart(10)} ${String(s.records).padStart(8)}  ${span}`);
  }
  if (limit > 0) {
    console.log(`\nentries (${shown.length} of ${entries.length})`);
    console.log(`  ${'index'.padStart(8)} ${'term'.padStart(6)} ${'type'.padEnd(6)} ${'bytes'.padStart(7)}  preview`);
    for (const e of shown)
      console.log(
        `  ${String(e.index).padStart(8)} ${String(e.term).padStart(6)} ${(e.type === 1 ? 'noop' : 'normal').padEnd(6)} ${String(e.data.length).padStart(7)}  ${preview(e)}`,
      );
  }
  return 0;
}
