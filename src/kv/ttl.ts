// TTL grants (issue 14): keys with a time to live. Named so that nobody confuses them with the
// leader's lease. The state machine keeps which grants exist, their TTL and their keys; WHEN a grant
// ends is decided by the leader, outside the state machine, and replicated as a `ttl-expire`
// command (docs/lease-safety.md, "TTL grants"). Ids are the log index of the grant's entry:
// unique and the same on every replica.
//
// Binary form (in kv snapshots from format 3): varint count × (varint id, varint ttlMs,
// varint keyCount × str key), ids ascending, keys ascending.
//
// Each grant also counts the UTF-8 bytes of its keys and their values (session 12): a grant's end
// deletes all its keys in one revision, which every member builds and holds whole (its events, the
// watch history), so the leader refuses a put that would take a grant past --max-ttl-keys or
// --max-ttl-bytes (server/ttl-room.ts). The count is derived from the data, never written to a
// snapshot, and changes no result: the state machine stays a pure function of the log.
import { Buffer } from 'node:buffer';
import { assert } from '../util/assert.ts';
import type { ByteReader, ByteWriter } from '../util/bytes.ts';

export interface TtlGrant {
  readonly id: number;
  readonly ttlMs: number;
}

export class TtlTable {
  private readonly grants = new Map<number, { ttlMs: number; keys: Set<string>; bytes: number }>();
  private readonly keyGrant = new Map<string, number>();

  get size(): number {
    return this.grants.size;
  }

  has(id: number): boolean {
    return this.grants.has(id);
  }

  ttlOf(id: number): number | undefined {
    return this.grants.get(id)?.ttlMs;
  }

  grantOf(key: string): number | undefined {
    return this.keyGrant.get(key);
  }

  /** The keys attached to grant `id` (none when there is no such grant). */
  keysOf(id: number): string[] {
    return [...(this.grants.get(id)?.keys ?? [])];
  }

  /** Keys attached to grant `id`, and their UTF-8 bytes with their values (undefined: no such grant). */
  attached(id: number): { keys: number; bytes: number } | undefined {
    const g = this.grants.get(id);
    return g === undefined ? undefined : { keys: g.keys.size, bytes: g.bytes };
  }

  list(): TtlGrant[] {
    return [...this.grants.entries()].map(([id, g]) => ({ id, ttlMs: g.ttlMs }));
  }

  grant(id: number, ttlMs: number): void {
    this.grants.set(id, { ttlMs, keys: new Set(), bytes: 0 });
  }

  /**
   * `key` now belongs to grant `id` (which must exist), or to none (undefined); `value` is its value
   * now (absent: deleted), `prevValue` the one it had (for the bytes of the grant it leaves).
   */
  attach(key: string, id: number | undefined, value?: string, prevValue?: string): void {
    const old = this.keyGrant.get(key);
    if (old === undefined && id === undefined) return;
    if (old !== undefined) {
      const g = this.grants.get(old);
      if (g !== undefined) {
        g.keys.delete(key);
        g.bytes -= pairBytes(key, prevValue);
      }
      this.keyGrant.delete(key);
    }
    if (id === undefined) return;
    const g = this.grants.get(id);
    assert(g !== undefined, () => `attach to unknown ttl grant ${id}`);
    g.keys.add(key);
    g.bytes += pairBytes(key, value);
    this.keyGrant.set(key, id);
  }

  /** Removes grant `id`; returns its keys in ascending order (null: no such grant). */
  end(id: number): string[] | null {
    const g = this.grants.get(id);
    if (g === undefined) return null;
    this.grants.delete(id);
    const keys = [...g.keys].sort();
    for (const k of keys) this.keyGrant.delete(k);
    return keys;
  }

  write(w: ByteWriter): void {
    const ids = [...this.grants.keys()].sort((a, b) => a - b);
    w.varint(ids.length);
    for (const id of ids) {
      const g = this.grants.get(id) as { ttlMs: number; keys: Set<string> };
      w.varint(id);
      w.varint(g.ttlMs);
      const keys = [...g.keys].sort();
      w.varint(keys.length);
      for (const k of keys) w.str(k);
    }
  }

  /** Replaces the contents; `valueOf` gives a key's value in the data (undefined: absent, refused). */
  read(r: ByteReader, fail: (m: string) => Error, valueOf: (key: string) => string | undefined): void {
    this.grants.clear();
    this.keyGrant.clear();
    const n = r.varint('ttl grant count');
    if (n > r.remaining / 3) throw fail(`ttl grant count ${n} exceeds the remaining bytes`);
    for (let i = 0; i < n; i++) {
      const id = r.varint('ttl id');
      const ttlMs = r.varint('ttlMs');
      if (this.grants.has(id)) throw fail(`duplicate ttl grant ${id}`);
      this.grant(id, ttlMs);
      const k = r.varint('ttl key count');
      if (k > r.remaining) throw fail(`ttl key count ${k} exceeds the remaining bytes`);
      for (let j = 0; j < k; j++) {
        const key = r.str('ttl key');
        const value = valueOf(key);
        if (value === undefined) throw fail(`ttl grant ${id} holds key ${JSON.stringify(key)}, which does not exist`);
        if (this.keyGrant.has(key)) throw fail(`key ${JSON.stringify(key)} in two ttl grants`);
        this.attach(key, id, value);
      }
    }
  }
}

/** A key and its value in UTF-8 bytes, as a grant counts them. */
export function pairBytes(key: string, value: string | undefined): number {
  return Buffer.byteLength(key) + (value === undefined ? 0 : Buffer.byteLength(value));
}
