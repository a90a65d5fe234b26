// Lease reads answered on the client API thread without a message to the node's thread: the values
// the node answered Gets with are kept, and one is served again while the node's shared view says
// the lease is valid and the key has not changed since it was read (lease-view.ts, and the safety
// argument in docs/lease-safety.md, "Lease reads on the API thread").
import type { GetRequest, GetResult } from '../backend.ts';
import { LeaseViewReader } from './lease-view.ts';

/** UTF-16 bytes of keys and values kept (oldest first out); a value too large for it is not kept. */
export const LOCAL_READS_MAX_BYTES = 32 * 1024 * 1024;
const ENTRY_OVERHEAD_BYTES = 64;

interface Kept {
  readonly result: GetResult;
  /** The store's revision the value was read at. */
  readonly readAt: bigint;
  readonly bytes: number;
}

export class LocalReads {
  readonly #view: LeaseViewReader;
  readonly #kept = new Map<string, Kept>();
  #bytes = 0;
  /** Lease reads answered here. */
  served = 0;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly maxBytes = LOCAL_READS_MAX_BYTES,
  ) {
    this.#view = new LeaseViewReader(buffer);
  }

  /** A lease read answered here, or null: the node's thread answers it (and keep() is told). */
  get(req: GetRequest): GetResult | null {
    if (req.consistency !== 'linearizable') return null;
    const k = this.#kept.get(req.key);
    if (k === undefined) return null;
    const at = this.#view.check(req.key, k.readAt);
    if (at === null) {
      // Changed since, or no lease now: in the first case the node's answer replaces it.
      return null;
    }
    this.served++;
    const r = k.result;
    // The value was current at r.revision and is still: answer at whichever state is later.
    return {
      found: r.found,
      value: r.value,
      index: Math.max(r.index, at.index),
      readMode: 'lease',
      staleByMs: 0,
      revision: Math.max(r.revision, at.revision),
      createRevision: r.createRevision,
      modRevision: r.modRevision,
      version: r.version,
    };
  }

  /** The node's answer to a Get of `key`: the value as of its revision, whatever the read mode. */
  keep(key: string, result: GetResult): void {
    const old = this.#kept.get(key);
    if (old !== undefined) {
      if (old.result.revision > result.revision) return; // answers may cross: keep the later
      this.#kept.delete(key);
      this.#bytes -= old.bytes;
    }
    const bytes = (key.length + result.value.length) * 2 + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.maxBytes / 16) return;
    this.#kept.set(key, { result, readAt: BigInt(result.revision), bytes });
    this.#bytes += bytes;
    for (const [k, v] of this.#kept) {
      if (this.#bytes <= this.maxBytes) break;
      this.#kept.delete(k);
      this.#bytes -= v.bytes;
    }
  }

  get size(): number {
    return this.#kept.size;
  }
}
