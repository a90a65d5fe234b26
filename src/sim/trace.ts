// A bounded event trace: the last `limit` lines of what happened (time, node, term, role, lease,
// what). Kept for every run and printed only when a seed fails, or streamed with --verbose.

export class Trace {
  private lines: (string | (() => string))[] = [];
  private start = 0;

  constructor(
    private readonly limit: number,
    private readonly stream: ((line: string) => void) | null,
  ) {}

  /** A line, or a function that makes it (formatting is deferred until the trace is printed). */
  add(line: string | (() => string)): void {
    if (this.stream !== null) this.stream(typeof line === 'string' ? line : line());
    if (this.lines.length < this.limit) this.lines.push(line);
    else {
      this.lines[this.start] = line;
      this.start = (this.start + 1) % this.limit;
    }
  }

  /** Oldest first. */
  dump(): string[] {
    return [...this.lines.slice(this.start), ...this.lines.slice(0, this.start)].map((l) =>
      typeof l === 'string' ? l : l(),
    );
  }
}

export function traceLine(
  nowUs: number,
  node: string,
  term: number | string,
  role: string,
  lease: boolean | null,
  what: string,
): string {
  const t = (nowUs / 1000).toFixed(3).padStart(10);
  const l = lease === null ? '     ' : lease ? 'LEASE' : '  -  ';
  return `${t}ms ${node.padEnd(3)} t${String(term).padEnd(4)} ${role.padEnd(13)} ${l} ${what}`;
}
