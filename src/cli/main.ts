// The `leasekv` command: a thin dispatcher. Each subcommand lives in commands/<name>.ts and exports
// `run(argv: string[]): Promise<number>` returning the process exit code.

interface Command {
  readonly summary: string;
  readonly load: () => Promise<{ run(argv: string[]): Promise<number> }>;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  // Subcommands register here, one line each.
  serve: { summary: 'run one cluster member', load: () => import('./commands/serve.ts') },
  wal: { summary: 'inspect a data folder (hard state, segments, entries, snapshot)', load: () => import('./commands/wal.ts') },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return ['usage: leasekv <command> [options]', '', 'commands:', ...lines, '', 'leasekv <command> --help for its options.'].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS[name];
  if (cmd === undefined) {
    console.error(`leasekv: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const mod = await cmd.load();
  return mod.run(rest);
}

process.exitCode = await main(process.argv.slice(2));
