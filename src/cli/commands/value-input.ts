// Where put and cas take a value from (issue 10): the argument itself, `-` for stdin, or
// --value-file PATH. Values above ~128 KiB cannot be passed as an argument (the OS limits one
// argument's length), so stdin and files are the way to reach the server's 1 MiB default limit.
// The bytes are taken exactly (no newline is stripped) and must be UTF-8: values are strings.
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { UsageError } from './flags.ts';

/**
 * The most a CLI reads: the largest --max-value-bytes a server can be configured with. The server
 * enforces its own (smaller) limit and names it in its error.
 */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

/** The value could not be read (missing file, too large, not UTF-8): exit code 1. */
export class ValueInputError extends Error {
  override readonly name = 'ValueInputError';
}

async function readCapped(chunks: AsyncIterable<Buffer | string>, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of chunks) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    n += b.length;
    if (n > MAX_INPUT_BYTES)
      throw new ValueInputError(
        `${what} is larger than ${MAX_INPUT_BYTES} bytes, more than any leasekv server accepts`,
      );
    parts.push(b);
  }
  return Buffer.concat(parts, n);
}

function readFileCapped(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new ValueInputError(
      `cannot read --value-file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new ValueInputError(`--value-file ${path} is a folder, not a file`);
    if (st.size > MAX_INPUT_BYTES)
      throw new ValueInputError(
        `--value-file ${path} is ${st.size} bytes, more than any leasekv server accepts (${MAX_INPUT_BYTES})`,
      );
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const got = readSync(fd, buf, off, buf.length - off, off);
      if (got === 0) break;
      off += got;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

function utf8(b: Buffer, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(b);
  } catch {
    throw new ValueInputError(`${what} is not valid UTF-8 text (leasekv values are UTF-8 strings)`);
  }
}

export interface ValueSource {
  /** The positional value as given (`-` means stdin), or undefined when absent. */
  readonly arg: string | undefined;
  /** --value-file, when given. */
  readonly file: string | undefined;
  /** What the value is called in messages ("VALUE", "NEW"). */
  readonly name: string;
  /** For tests: stdin's chunks (default process.stdin). */
  readonly stdin?: AsyncIterable<Buffer | string>;
}

/** The value from the argument, stdin (`-`) or --value-file; throws UsageError or ValueInputError. */
export async function readValue(s: ValueSource): Promise<string> {
  if (s.file !== undefined) {
    if (s.arg !== undefined)
      throw new UsageError(`give ${s.name} either as an argument or with --value-file, not both`);
    return utf8(readFileCapped(s.file), `--value-file ${s.file}`);
  }
  if (s.arg === undefined) throw new UsageError(`missing ${s.name} (an argument, - for stdin, or --value-file PATH)`);
  if (s.arg !== '-') return s.arg;
  if (s.stdin === undefined && process.stdin.isTTY)
    process.stderr.write(`reading ${s.name} from stdin until end of input (Ctrl-D)\n`);
  return utf8(await readCapped(s.stdin ?? process.stdin, 'the value on stdin'), 'the value on stdin');
}
