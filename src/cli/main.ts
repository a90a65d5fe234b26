// The `leasekv` command: a thin dispatcher. Each subcommand lives in commands/<name>.ts and exports
// `run(argv: string[]): Promise<number>` returning the process exit code.
import { readFileSync } from 'node:fs';
import { nearest } from '../util/suggest.ts';
import { holdSignals } from './signals.ts';
import { unknownVariables } from '../server/config-args.ts';

interface Command {
  readonly summary: string;
  readonly load: () => Promise<{ run(argv: string[]): Promise<number> }>;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  // Subcommands register here, one line each.
  serve: { summary: 'run one cluster member', load: () => import('./commands/serve.ts') },
  wal: {
    summary: 'inspect a data folder (hard state, segments, entries, snapshot)',
    load: () => import('./commands/wal.ts'),
  },
  up: { summary: 'start a local cluster (3 or 5 nodes) with data in a folder', load: () => import('./commands/up.ts') },
  put: {
    summary: 'put KEY VALUE | put KEY - (stdin) | put KEY --value-file PATH',
    load: () => import('./commands/put.ts'),
  },
  get: { summary: 'get KEY [--consistency linearizable|stale]', load: () => import('./commands/get.ts') },
  del: { summary: 'del KEY', load: () => import('./commands/del.ts') },
  cas: {
    summary: 'cas KEY OLD NEW | cas --absent KEY NEW (compare-and-swap)',
    load: () => import('./commands/cas.ts'),
  },
  scan: { summary: 'scan PREFIX [--limit N]: keys and values by prefix', load: () => import('./commands/scan.ts') },
  watch: {
    summary: 'watch KEY [--prefix] [--rev N]: print changes as they happen',
    load: () => import('./commands/watch.ts'),
  },
  ttl: {
    summary: 'ttl grant MS | keep-alive ID MS | revoke ID: keys with a time to live',
    load: () => import('./commands/ttl.ts'),
  },
  lock: {
    summary: 'lock NAME -- COMMAND: run COMMAND holding mutex NAME (fencing token in its env)',
    load: () => import('./commands/lock.ts'),
  },
  elect: {
    summary: 'elect NAME VALUE | elect NAME --leader: leader election',
    load: () => import('./commands/elect.ts'),
  },
  txn: {
    summary: 'txn [FILE|-]: a transaction (compare, success, failure) read as JSON',
    load: () => import('./commands/txn.ts'),
  },
  endpoint: {
    summary: 'endpoint health: GET /health of every endpoint, as a table',
    load: () => import('./commands/endpoint.ts'),
  },
  snapshot: {
    summary: 'snapshot save FILE | status FILE | restore FILE --data-dir D ...: backup and restore',
    load: () => import('./commands/snapshot.ts'),
  },
  status: { summary: 'status of every node, as a table (-w simple|json)', load: () => import('./commands/status.ts') },
  user: {
    summary: 'user list | add NAME | passwd NAME | delete NAME | grant-role NAME ROLE | revoke-role … | token',
    load: () => import('./commands/user.ts'),
  },
  role: {
    summary: 'role list | add NAME | delete NAME | grant-permission NAME read|readwrite PREFIX | revoke-permission …',
    load: () => import('./commands/role.ts'),
  },
  member: {
    summary: 'member list | add ID --peer-addr … --client-addr … [--learner] | promote ID | remove ID',
    load: () => import('./commands/member.ts'),
  },
  leader: {
    summary: 'leader transfer [--to ID]: hand leadership to a caught-up voter',
    load: () => import('./commands/leader.ts'),
  },
  check: {
    summary: 'check a recorded history for linearizability (exit 0 yes, 1 no, 2 unknown, 3 bad input)',
    load: () => import('./commands/check.ts'),
  },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return [
    'usage: leasekv <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    'leasekv <command> --help (or leasekv help <command>) for its options; leasekv --version.',
  ].join('\n');
}

/**
 * A reader that goes away (`leasekv scan | head -1`) ends a client command quietly with code 0, as
 * it would a C tool, instead of with an unhandled EPIPE and its stack trace. Not for serve and up,
 * whose stdout is their log: they must still stop their nodes.
 */
function endQuietlyWhenStdoutCloses(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(0);
  });
}

/** The version in package.json: two folders up from src/cli/ and from dist/cli/ alike. */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name !== 'serve' && name !== 'up') endQuietlyWhenStdoutCloses();
  // serve says it in its log (and beside a config error); the others here, on stderr.
  if (name !== 'serve') for (const w of unknownVariables(process.env)) console.error(`leasekv: warning: ${w}`);
  // `leasekv help CMD` is `leasekv CMD --help`.
  if (name === 'help' && rest[0] !== undefined && COMMANDS[rest[0]] !== undefined)
    return (await COMMANDS[rest[0]]!.load()).run(['--help']);
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    // What a rolling upgrade or a restore depends on (docs/operations.md, "Compatibility").
    const { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } = await import('../transport/codec.ts');
    const { DATA_FORMAT, MIN_DATA_FORMAT } = await import('../storage/data_format.ts');
    const { BACKUP_FORMAT_VERSION } = await import('../storage/backup_file.ts');
    console.log(`leasekv ${packageVersion()}`);
    console.log(`peer protocol ${PROTOCOL_VERSION} (speaks ${MIN_PROTOCOL_VERSION} to ${PROTOCOL_VERSION})`);
    console.log(`data dir format ${DATA_FORMAT} (opens ${MIN_DATA_FORMAT} to ${DATA_FORMAT})`);
    console.log(`backup file format ${BACKUP_FORMAT_VERSION}`);
    return 0;
  }
  const cmd = COMMANDS[name];
  if (cmd === undefined) {
    const guess = nearest(name, Object.keys(COMMANDS));
    const hint = guess === undefined ? '' : `; did you mean '${guess}'?`;
    console.error(`leasekv: unknown command '${name}'${hint}\n\n${usage()}`);
    return 2;
  }
  // serve's stop signals are held while its modules load: since bin/leasekv.mjs's first statement,
  // whose listeners this takes over, or from now when main.ts is run without it (signals.ts).
  if (name === 'serve' && !rest.includes('--help') && !rest.includes('-h')) holdSignals();
  const mod = await cmd.load();
  return mod.run(rest);
}

process.exitCode = await main(process.argv.slice(2));
