// Bounds on what one TTL grant holds (session 12). When a grant ends — expired or revoked — every
// key attached to it is deleted in ONE revision, as etcd revokes a lease: one log entry, applied on
// every member at once, its events (each with the key's last value) built whole, held whole in the
// watch history (one revision is never split there) and sent to every watcher. Nothing bounded that
// revision: a client attaching keys to one grant made the next expiry as large as it liked (1,000
// keys of 1 MiB: a 1 GiB revision on every member at once, beyond the heap).
//
// So the leader refuses, before proposing it, a Put that would leave a grant with more than
// maxKeys keys or more than maxBytes bytes of keys and values (UTF-8): invalid_argument, as etcd
// reports its limits (not retryable as it is: revoke the grant, or attach fewer keys). The limits
// are checked against the grant as applied here plus the puts to it this leader has proposed and
// not yet seen applied, so concurrent puts cannot pass them together. The check is not part of the
// state machine (the limits are flags, and members could disagree on them): puts proposed by a
// previous leader and committed after a change of leader can add at most what one leader had in
// flight (--max-pending-requests puts). Keeping the end in one revision keeps etcd's semantics — a
// watcher or a transaction never sees a grant half ended — which cutting the end into pieces would
// lose.
import { InvalidArgumentError } from './backend.ts';
import { pairBytes } from '../kv/ttl.ts';
import type { ApiLimits } from './api/limits.ts';
import { intSetting, NodeConfigError, type RawConfig } from './config-flags.ts';

export interface TtlLimits {
  /** Keys attached to one grant at most. */
  readonly maxKeys: number;
  /** UTF-8 bytes of the keys attached to one grant and their values, at most. */
  readonly maxBytes: number;
}

export const DEFAULT_TTL_LIMITS: TtlLimits = { maxKeys: 10_000, maxBytes: 64 * 1024 * 1024 };

/** What the check reads of the applied state (kv/state.ts). */
export interface TtlView {
  ttlAttached(id: number): { keys: number; bytes: number } | undefined;
  ttlOfKey(key: string): number | undefined;
  get(key: string): string | undefined;
}

/** --max-ttl-keys, --max-ttl-bytes: at least one key and value of the largest sizes. */
export function ttlLimits(raw: Partial<RawConfig>, l: ApiLimits): TtlLimits {
  const maxKeys = intSetting(raw.maxTtlKeys, '--max-ttl-keys', DEFAULT_TTL_LIMITS.maxKeys, 1, 10_000_000);
  const maxBytes = intSetting(raw.maxTtlBytes, '--max-ttl-bytes', DEFAULT_TTL_LIMITS.maxBytes, 1, 2 ** 40);
  const onePair = l.maxKeyBytes + l.maxValueBytes;
  if (maxBytes < onePair)
    throw new NodeConfigError(
      `--max-ttl-bytes ${maxBytes} must be at least --max-key-bytes + --max-value-bytes (${onePair}): a grant must hold one key of the largest size`,
    );
  return { maxKeys, maxBytes };
}

export class TtlRoom {
  /** Per grant: keys and bytes of puts this node proposed to it that have not come back applied. */
  readonly #pending = new Map<number, { keys: number; bytes: number }>();

  constructor(
    private readonly limits: TtlLimits,
    private readonly view: TtlView,
  ) {}

  /**
   * Reserves room in grant `id` for `key` = `value`, or throws InvalidArgumentError naming the limit.
   * A grant that does not exist is let through (the put is answered not_found when applied). Returns
   * the release, to be called once the put is applied or failed.
   */
  reserve(id: number, key: string, value: string): () => void {
    const now = this.view.ttlAttached(id);
    if (now === undefined) return () => undefined;
    const already = this.view.ttlOfKey(key) === id;
    const keys = already ? 0 : 1;
    const bytes = pairBytes(key, value);
    const pending = this.#pending.get(id) ?? { keys: 0, bytes: 0 };
    const keysAfter = now.keys + pending.keys + keys;
    const bytesAfter = now.bytes + pending.bytes + bytes - (already ? pairBytes(key, this.view.get(key)) : 0);
    if (keysAfter > this.limits.maxKeys)
      throw new InvalidArgumentError(
        `ttl grant ${id} has ${now.keys + pending.keys} keys attached; the limit is ${this.limits.maxKeys} (--max-ttl-keys): its end deletes them all in one revision. Attach the key to another grant`,
      );
    if (bytesAfter > this.limits.maxBytes)
      throw new InvalidArgumentError(
        `ttl grant ${id} would hold ${bytesAfter} bytes of keys and values with this put; the limit is ${this.limits.maxBytes} (--max-ttl-bytes): its end deletes them all in one revision. Attach the key to another grant`,
      );
    pending.keys += keys;
    pending.bytes += bytes;
    this.#pending.set(id, pending);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      pending.keys -= keys;
      pending.bytes -= bytes;
      if (pending.keys <= 0 && pending.bytes <= 0 && this.#pending.get(id) === pending) this.#pending.delete(id);
    };
  }
}
