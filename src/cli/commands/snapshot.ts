// `leasekv snapshot save|status|restore`: backup and restore, like etcdctl's (docs/api.md, "Backup
// and restore"; the file format: docs/storage.md, "Backup file").
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
  constants,
} from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { dirname } from 'node:path';
import { buildNodeConfig, NodeConfigError, rawFromArgs } from '../../server/config.ts';
import { ConfigError } from '../../raft/config.ts';
import { restoreDataDir, RestoreError, verifyBackup } from '../../server/restore.ts';
import { BackupFileError, type DecodedBackup } from '../../storage/backup_file.ts';
import { DataDirLockedError } from '../../storage/dir_lock.ts';
import type { ClientTlsOptions } from '../../client/transport.ts';
import { httpGet, readText } from './http-get.ts';
import { isSystemError, makeClient } from './common.ts';
import { command, emit, field, parse, renderTable, UsageError, want, wantsHelp, type Format } from './common.ts';

const USAGE = `usage: leasekv snapshot save FILE [--endpoints E,E] [-w simple|json]
       leasekv snapshot status FILE [-w table|simple|json]
       leasekv snapshot restore FILE --data-dir DIR --id ID --peers id=HOST:PORT,... --cluster-token NEW [serve flags]

save     asks the leader (found from --endpoints) for a consistent copy of the whole state, taken
         while the cluster serves at a linearizable point: it holds every write acknowledged before
         the save began. Written to FILE.tmp, fsynced, checked, renamed to FILE.
status   checks FILE's checksum and the state inside, and prints its header (index, term, keys,
         the source cluster). Also: snapshot inspect.
restore  checks FILE and writes DIR as a member of a NEW cluster seeded with its keys and client
         sessions. Run it once per member, each with its own --id and --data-dir and the same
         --peers and --cluster-token; then start each with leasekv serve and those flags. DIR must be
         new or empty. --cluster-token must differ from the backed-up cluster's, so that the two
         clusters refuse each other. --client-addrs is recorded too (so that followers can name
         the leader's address to clients; serve --client-addrs fills in any left out). Other serve
         flags are accepted (and ignored), so the same flags (or --config file) as serve can be passed.
Exit code 1 when the save, check or restore failed (a damaged file is refused), 2 on bad usage.`;

const FORMATS: readonly Format[] = ['simple', 'table', 'json'];

function fail(message: string): never {
  throw new BackupFileError(message);
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'restore' && !wantsHelp(rest)) return restore(rest);
  return command(
    'snapshot',
    USAGE,
    argv,
    async () => {
      try {
        if (sub === 'save') return await save(rest);
        if (sub === 'status' || sub === 'inspect') return status(rest);
        throw new UsageError(
          sub === undefined
            ? 'expected a subcommand: save, status or restore'
            : `unknown subcommand '${sub}' (known: save, status, restore)`,
        );
      } catch (e) {
        if (e instanceof BackupFileError) {
          process.stderr.write(`leasekv snapshot ${sub ?? ''}: ${e.message}\n`);
          return 1;
        }
        throw e;
      }
    },
    { formats: FORMATS },
  );
}

function summary(b: DecodedBackup): Record<string, unknown> {
  return { ...b.header, sha256: b.sha256 };
}

function status(argv: string[]): number {
  const { common, positionals } = parse(argv, {}, { formats: FORMATS, defaultFormat: 'table' });
  want(positionals, 1, 'FILE');
  const file = positionals[0]!;
  let bytes: Uint8Array;
  try {
    bytes = readBackupFile(file);
  } catch (e) {
    fail(`${file}: ${(e as Error).message}`);
  }
  const b = withFile(file, () => verifyBackup(bytes));
  const h = b.header;
  const pairs: [string, string][] = [
    ['file', file],
    ['checksum', `ok (sha256 ${b.sha256})`],
    ['format', String(h.format)],
    ['index', String(h.index)],
    ['term', String(h.term)],
    ['keys', String(h.keys)],
    ['data bytes', String(h.dataBytes)],
    ['cluster token', h.clusterToken],
    ['members', h.members.map((m) => `${m.id}=${m.peerAddr}`).join(',')],
    ['taken on', h.node],
    ['taken at', h.createdAt],
  ];
  emit(common.format, {
    table: () => renderTable(['FIELD', 'VALUE'], pairs),
    simple: () => pairs.map(([k, v]) => `${k}: ${field(v)}\n`).join(''),
    json: () => ({ file, ...summary(b) }),
  });
  return 0;
}

/** The backup file's bytes; a folder is named as one (reading it said only EISDIR). */
function readBackupFile(file: string): Uint8Array {
  if (statSync(file, { throwIfNoEntry: false })?.isDirectory() === true)
    throw new BackupFileError(`a folder, not a backup file (\`leasekv snapshot save FILE\` writes one)`);
  return readFileSync(file);
}

function withFile<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof BackupFileError) throw new BackupFileError(`${file}: ${e.message}`);
    throw e;
  }
}

/** One GET /snapshot; the body is written to `tmp` and fsynced. On an error answer: why, and the leader it names. */
async function fetchTo(
  endpoint: string,
  tmp: string,
  headerTimeoutMs: number,
  authorization: string | undefined,
  tls: ClientTlsOptions | null,
): Promise<{ ok: true } | { ok: false; why: string; leaderAddr: string }> {
  let res: IncomingMessage;
  try {
    res = await httpGet(
      endpoint,
      '/snapshot',
      headerTimeoutMs,
      authorization === undefined ? {} : { authorization },
      tls,
    );
  } catch (e) {
    return { ok: false, why: (e as Error).message, leaderAddr: '' };
  }
  if (res.statusCode !== 200) {
    let why = `HTTP ${res.statusCode ?? 0}`;
    try {
      const j = JSON.parse(await readText(res)) as { code?: string; message?: string };
      why = `${j.code ?? why}: ${j.message ?? ''}`;
    } catch {
      // not JSON
    }
    const addr = res.headers['leasekv-leader-addr'];
    return { ok: false, why, leaderAddr: typeof addr === 'string' ? addr : '' };
  }
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o644);
  try {
    for await (const chunk of res) {
      const b = chunk as Buffer;
      let done = 0;
      while (done < b.length) done += writeSync(fd, b, done, b.length - done);
    }
    fsyncSync(fd);
  } catch (e) {
    return { ok: false, why: `the transfer broke off: ${(e as Error).message}`, leaderAddr: '' };
  } finally {
    closeSync(fd);
  }
  return { ok: true };
}

async function save(argv: string[]): Promise<number> {
  const { common, positionals } = parse(argv, {}, { formats: ['simple', 'json'] });
  want(positionals, 1, 'FILE');
  const file = positionals[0]!;
  const tmp = `${file}.tmp`;
  // Before anything is asked of the leader (a backup is a whole copy of its state): FILE's folder
  // must take FILE.tmp, and FILE must not be a folder.
  try {
    closeSync(openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o644));
    if (statSync(file, { throwIfNoEntry: false })?.isDirectory() === true) throw new UsageError(`${file} is a folder`);
  } catch (e) {
    rmSync(tmp, { force: true });
    if (e instanceof UsageError) throw e;
    process.stderr.write(`leasekv snapshot save: cannot write ${file}: ${(e as Error).message}\n`);
    return 1;
  }
  // Endpoints in order; a follower's "not leader" answer puts the leader it names first.
  const queue = [...common.endpoints];
  const tried = new Set<string>();
  const errors: string[] = [];
  // A backup needs the root role (issue 15): the token comes from the client's credentials.
  const client = makeClient(common);
  let authorization: string | undefined;
  try {
    authorization = await client.authorization();
  } finally {
    await client.close();
  }
  try {
    while (queue.length > 0) {
      const ep = queue.shift()!;
      if (tried.has(ep)) continue;
      tried.add(ep);
      const r = await fetchTo(ep, tmp, common.deadlineMs, authorization, common.tls);
      if (!r.ok) {
        errors.push(`${ep}: ${r.why}`);
        if (r.leaderAddr !== '' && !tried.has(r.leaderAddr)) queue.unshift(r.leaderAddr);
        continue;
      }
      const b = withFile(tmp, () => verifyBackup(readFileSync(tmp)));
      renameSync(tmp, file);
      fsyncDir(dirname(file));
      emit(common.format, {
        simple: () =>
          `saved ${file}: index ${b.header.index}, term ${b.header.term}, ${b.header.keys} keys, ${b.header.dataBytes} data bytes, from ${b.header.node} (${ep}), sha256 ${b.sha256}\n`,
        json: () => ({ file, endpoint: ep, ...summary(b) }),
      });
      return 0;
    }
  } finally {
    rmSync(tmp, { force: true });
  }
  process.stderr.write(`leasekv snapshot save: no leader gave a snapshot:\n${errors.map((e) => `  ${e}\n`).join('')}`);
  return 1;
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function restore(argv: string[]): Promise<number> {
  const [file, ...flags] = argv;
  const say = (m: string, code: number): number => {
    process.stderr.write(`leasekv snapshot restore: ${m}\n`);
    return code;
  };
  if (file === undefined || file.startsWith('-'))
    return say(`expected FILE first, then the serve flags\n\n${USAGE}`, 2);
  let cfg;
  try {
    // The addresses this member will listen on do not matter to a restore, nor does auth (the users
    // are in the backup): LEASEKV_ROOT_PASSWORD_FILE, set for the CLI, is not refused "needs --auth".
    const { rootPasswordFile: _file, ...raw } = rawFromArgs(flags, process.env);
    cfg = buildNodeConfig({ listenPeer: '127.0.0.1:0', listenClient: '127.0.0.1:0', ...raw });
  } catch (e) {
    if (e instanceof NodeConfigError || e instanceof ConfigError) return say(e.message, 2);
    throw e;
  }
  try {
    const b = withFile(file, () => verifyBackup(readBackupFile(file)));
    await restoreDataDir(cfg, b);
    process.stdout.write(
      `restored ${file} (index ${b.header.index}, ${b.header.keys} keys) into ${cfg.dataDir} as member ${cfg.id} of a new cluster ${[...cfg.peers.keys()].join(',')} with cluster token '${cfg.clusterToken}'\n`,
    );
    return 0;
  } catch (e) {
    if (e instanceof BackupFileError || e instanceof RestoreError || e instanceof DataDirLockedError)
      return say(e.message, 1);
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && (e as NodeJS.ErrnoException).path === file)
      return say(`${file}: no such file`, 1);
    // The data dir under a file, a file itself, or where no folder can be made (/proc/x).
    if (isSystemError(e)) return say(e.message, 1);
    throw e;
  }
}
