// `leasekv wal inspect DIR`: prints what a node's data folder holds — hard state, snapshot metadata,
// segments and log entries — without changing it (a torn tail is reported, not repaired).
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Entry } from '../../raft/types.ts';
import { StorageCorruptError } from '../../storage/errors.ts';
import { RealFs } from '../../storage/fs.ts';
import { recoverDir } from '../../storage/recovery.ts';

const USAGE = `usage: leasekv wal inspect DIR [-w json] [--limit N] [--from INDEX]

Prints the hard state, snapshot metadata, segments and entries of a node's data folder (read-only).
  -w, --output json   machine-readable output
  --limit N           entries to print (default 20; 0 for none)
  --from INDEX        first entry to print (default: the last N entries)`;

const PREVIEW_CHARS = 40;

function preview(e: Entry): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(e.data.subarray(0, PREVIEW_CHARS * 2));
  const printable = text.replace(/[^\x20-\x7e]/g, '.');
  return printable.length > PREVIEW_CHARS ? `${printable.slice(0, PREVIEW_CHARS)}…` : printable;
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h') {
    console.log(USAGE);
    return 0;
  }
  if (sub !== 'inspect') {
    console.error(USAGE);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { output: { type: 'string', short: 'w' }, limit: { type: 'string' }, from: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (e) {
    console.error(`leasekv wal: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const dir = positionals[0];
  const limit = Number(values.limit ?? '20');
  const from = values.from === undefined ? null : Number(values.from);
  if (dir === undefined || positionals.length > 1 || !(Number.isInteger(limit) && limit >= 0) || (from !== null && !Number.isInteger(from)) || (values.output !== undefined && values.output !== 'json')) {
    console.error(USAGE);
    return 2;
  }
  const fs = new RealFs();
  if (!fs.exists(dir)) {
    console.error(`leasekv wal: ${dir}: no such folder`);
    return 1;
  }
  if (!statSync(dir).isDirectory()) {
    console.error(`leasekv wal: ${dir}: not a folder (give a node's --data-dir)`);
    return 1;
  }
  let r;
  try {
    r = recoverDir(fs, dir);
  } catch (e) {
    if (e instanceof StorageCorruptError) {
      if (values.output === 'json') console.log(JSON.stringify({ corrupt: { file: e.file, offset: e.offset, reason: e.reason } }, null, 2));
      else console.error(`leasekv wal: ${e.message}`);
      return 1;
    }
    throw e;
  }
  const entries = r.log.all();
  const start = from === null ? Math.max(0, entries.length - limit) : Math.max(0, from - r.log.baseIndex - 1);
  const shown = entries.slice(start, start + limit);
  if (values.output === 'json') {
    const out = {
      hardState: r.hardState,
      snapshot: r.snapshot,
      firstIndex: r.log.baseIndex + 1,
      lastIndex: r.log.lastIndex(),
      segments: r.segments,
      tornTail: r.repair,
      entries: shown.map((e) => ({ index: e.index, term: e.term, type: e.type === 1 ? 'noop' : 'normal', sizeBytes: e.data.length, preview: preview(e) })),
    };
    console.log(JSON.stringify(out, null, 2));
    return 0;
  }
  const h = r.hardState;
  console.log(`data folder   ${dir}`);
  console.log(`hard state    term ${h.term}, voted for ${h.votedFor ?? '-'}, commit ${h.commit}`);
  console.log(`snapshot      ${r.snapshot === null ? 'none' : `index ${r.snapshot.index}, term ${r.snapshot.term}, voters ${r.snapshot.confState.voters.join(',')}${r.snapshot.confState.learners.length > 0 ? `, learners ${r.snapshot.confState.learners.join(',')}` : ''}`}`);
  console.log(`log           entries ${r.log.baseIndex + 1}..${r.log.lastIndex()} (${entries.length})`);
  if (r.repair !== null) console.log(`torn tail     ${r.repair.file} at byte ${r.repair.offset}: ${r.repair.bytesDropped} bytes (${r.repair.why}); truncated on next start`);
  console.log('\nsegments');
  console.log(`  ${'name'.padEnd(22)} ${'bytes'.padStart(10)} ${'records'.padStart(8)}  entries`);
  for (const s of r.segments) {
    const span = s.firstEntryIndex === null ? '-' : `${s.firstEntryIndex}..${s.lastEntryIndex}`;
    console.log(`  ${s.name.padEnd(22)} ${String(s.sizeBytes).padStart(10)} ${String(s.records).padStart(8)}  ${span}`);
  }
  if (limit > 0) {
    console.log(`\nentries (${shown.length} of ${entries.length})`);
    console.log(`  ${'index'.padStart(8)} ${'term'.padStart(6)} ${'type'.padEnd(6)} ${'bytes'.padStart(7)}  preview`);
    for (const e of shown) console.log(`  ${String(e.index).padStart(8)} ${String(e.term).padStart(6)} ${(e.type === 1 ? 'noop' : 'normal').padEnd(6)} ${String(e.data.length).padStart(7)}  ${preview(e)}`);
  }
  return 0;
}
