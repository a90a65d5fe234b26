// TTL grants (issue 14): keys with a time to live. Named so that nobody confuses them with the
// leader's lease. The state machine keeps which grants exist, their TTL and their keys; WHEN a grant
// ends is decided by the leader, outside the state machine, and replicated as a `ttl-expire`
// command (docs/lease-safety.md, "TTL grants"). Ids are the log index of the grant's entry:
// unique and the same on every replica.
//
// Binary form (in kv snapshots from format 3): varint count × (varint id, varint ttlMs,
// varint keyCount × str key), ids ascending, keys ascending.
import { assert } from '../util/assert.ts';
import type { ByteReader, ByteWriter } from '../util/bytes.ts';

export interface TtlGrant {
  readonly id: number;
  readonly ttlMs: number;
}

export class TtlTable {
  private readonly grants = new Map<number, { ttlMs: number; keys: Set<string> }>();
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

  list(): TtlGrant[] {
    return [...this.grants.entries()].map(([id, g]) => ({ id, ttlMs: g.ttlMs }));
  }

  grant(id: number, ttlMs: number): void {
    this.grants.set(id, { ttlMs, keys: new Set() });
  }

  /** `key` now belongs to grant `id` (which must exist), or to none (undefined). */
  attach(key: string, id: number | undefined): void {
    const old = this.keyGrant.get(key);
    if (old === id) return;
    if (old !== undefined) {
      this.grants.get(old)?.keys.delete(key);
      this.keyGrant.delete(key);
    }
    if (id === undefined) return;
    const g = this.grants.get(id);
    assert(g !== undefined, () => `attach to unknown ttl grant ${id}`);
    g.keys.add(key);
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

  /** Replaces the contents; `exists` says whether a key is in the data (checked). */
  read(r: ByteReader, fail: (m: string) => Error, exists: (key: string) => boolean): void {
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
        if (!exists(key)) throw fail(`ttl grant ${id} holds key ${JSON.stringify(key)}, which does not exist`);
        if (this.keyGrant.has(key)) throw fail(`key ${JSON.stringify(key)} in two ttl grants`);
        this.attach(key, id);
      }
    }
  }
}
