// Reading many keys in pages (session 10). A Range's answer is capped by the server's
// --max-response-bytes (3 MiB by default), so a prefix of big values cannot come back as one answer.
// scanPages asks for one page at a time, each starting at the key after the last one returned, all
// at the first page's revision (one consistent view, as etcd clients page with a fixed revision); a
// page refused as too large is asked again with as many keys as fitted under the cap (the server
// says how many), down to one key, which always fits.
import { AnswerTooLargeError } from './errors.ts';
import type { CallOptions, Consistency, RangeOptions, RangeResult } from './types.ts';

/** Keys asked for per page unless told: the server's default limit. */
export const DEFAULT_PAGE_KEYS = 1000;

export interface ScanOptions {
  /** Keys in all (absent: every key under the prefix). */
  readonly limit?: number;
  /** Keys asked for per page (default DEFAULT_PAGE_KEYS); fewer when a page would pass the cap. */
  readonly pageLimit?: number;
  readonly consistency?: Consistency;
  /** Read at this past revision (default: the first page's, which is now). */
  readonly revision?: number;
  readonly keysOnly?: boolean;
}

/** Yields the pages of a scan in key order; the last one's `more` says whether keys remain beyond opts.limit. */
export async function* scanPages(
  range: (o: CallOptions & RangeOptions) => Promise<RangeResult>,
  opts: CallOptions & ScanOptions,
): AsyncGenerator<RangeResult> {
  const { limit, pageLimit, revision: at, ...rest } = opts;
  let left = limit ?? Number.POSITIVE_INFINITY;
  let page = pageLimit ?? DEFAULT_PAGE_KEYS;
  if (!(Number.isInteger(page) && page >= 1)) throw new RangeError(`pageLimit must be an integer >= 1: ${page}`);
  let startKey = '';
  let revision = at;
  while (left > 0) {
    let res: RangeResult;
    try {
      res = await range({
        ...rest,
        limit: Math.min(page, left),
        ...(startKey === '' ? {} : { startKey }),
        ...(revision === undefined ? {} : { revision }),
      });
    } catch (e) {
      if (!(e instanceof AnswerTooLargeError) || page === 1) throw e;
      page = Math.max(1, Math.min(page - 1, e.keysThatFit));
      continue;
    }
    revision ??= res.revision;
    left -= res.kvs.length;
    yield res;
    const last = res.kvs[res.kvs.length - 1];
    if (!res.more || last === undefined) return;
    // The next key in UTF-8 byte order after `last`.
    startKey = `${last.key}\u0000`;
  }
}
