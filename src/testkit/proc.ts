// Node processes for the tests and the benchmark: spawn `node bin/leasekv.mjs serve ...` with output to a
// log file, signal it, and wait (bounded) for it to exit. Every child is registered so that an
// `exit` hook can SIGKILL whatever a failed or interrupted test left behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const LEASEKV_BIN = fileURLToPath(new URL('../../bin/leasekv.mjs', import.meta.url));

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class NodeProcess {
  private exitInfo: Exit | null = null;
  private readonly exited: Promise<Exit>;

  private constructor(
    private readonly child: ChildProcess,
    readonly logPath: string,
  ) {
    live.add(child);
    this.exited = new Promise<Exit>((resolve) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  /**
   * Starts `command args` (by default node with the leasekv bin) appending stdout and stderr to
   * logPath. LEASEKV_* variables of the test's own environment are removed so flags are the only
   * configuration; `env` is added on top.
   */
  static spawn(o: {
    command?: string;
    args: readonly string[];
    logPath: string;
    env?: Readonly<Record<string, string>>;
  }): NodeProcess {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LEASEKV_')) env[k] = v;
    Object.assign(env, o.env);
    const fd = openSync(o.logPath, 'a');
    try {
      const child = spawn(o.command ?? process.execPath, o.args, { cwd: REPO_ROOT, env, stdio: ['ignore', fd, fd] });
      return new NodeProcess(child, o.logPath);
    } finally {
      closeSync(fd); // the child has its own copy
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.exitInfo === null;
  }

  get exit(): Exit | null {
    return this.exitInfo;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.exitInfo === null) this.child.kill(sig);
  }

  /** Resolves with the exit, or null if it did not exit within timeoutMs. */
  async waitExit(timeoutMs: number): Promise<Exit | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((r) => {
      timer = setTimeout(() => r(null), timeoutMs);
    });
    const r = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    return r;
  }

  /** SIGKILL and wait for the exit (a stopped process dies from SIGKILL too). */
  async kill(): Promise<void> {
    this.signal('SIGKILL');
    if ((await this.waitExit(10_000)) === null) throw new Error(`pid ${this.pid} survived SIGKILL for 10 s`);
  }
}

/** The last `lines` lines of a log file (for failure messages). */
export function tailFile(path: string, lines: number): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch (e) {
    return `(cannot read ${path}: ${(e as Error).message})`;
  }
}
