// The membership table: what the cluster knows of the members added by ConfChange entries — peer
// and client address, incarnation, whether the leader promotes it once caught up — and the ids
// removed for good. Applied from committed ConfChange entries (the core decides who votes; this
// table says where members are and who they are) and part of every snapshot (snapshot.ts).
//
// The first members are not in it: their addresses come from each member's identity record
// (docs/storage.md "Cluster identity"), since --peers may give each member its own view of them.
import { decodeConfChange } from '../raft/confchange.ts';
import type { ConfChange } from '../raft/types.ts';

/** What a ConfChange's `context` carries for an added member (JSON, UTF-8). */
export interface MemberContext {
  readonly peerAddr: string;
  readonly clientAddr: string;
  readonly incarnation: string;
  /** Added as a voter: the leader promotes it once it has caught up. */
  readonly autoPromote: boolean;
}

export interface AddedMember extends MemberContext {
  readonly id: string;
  /** The log index of the add-learner entry. */
  readonly addedAt: number;
}

export function encodeMemberContext(c: MemberContext): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(c));
}

/** The context of an add-learner change; null when it is not one (promote/remove carry none). */
export function decodeMemberContext(bytes: Uint8Array): MemberContext | null {
  if (bytes.length === 0) return null;
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const x = v as Record<string, unknown>;
  if (typeof x['peerAddr'] !== 'string' || typeof x['clientAddr'] !== 'string' || typeof x['incarnation'] !== 'string')
    return null;
  return {
    peerAddr: x['peerAddr'],
    clientAddr: x['clientAddr'],
    incarnation: x['incarnation'],
    autoPromote: x['autoPromote'] === true,
  };
}

export class MembershipTable {
  private readonly added = new Map<string, AddedMember>();
  private readonly removedIds = new Set<string>();

  get(id: string): AddedMember | undefined {
    return this.added.get(id);
  }

  all(): AddedMember[] {
    return [...this.added.values()];
  }

  removed(): string[] {
    return [...this.removedIds].sort();
  }

  isRemoved(id: string): boolean {
    return this.removedIds.has(id);
  }

  /** Applies a committed ConfChange entry's data. Returns the change (for the host's logs). */
  applyEntry(index: number, data: Uint8Array): ConfChange {
    const cc = decodeConfChange(data);
    this.apply(index, cc);
    return cc;
  }

  apply(index: number, cc: ConfChange): void {
    switch (cc.kind) {
      case 'add-learner': {
        const ctx = decodeMemberContext(cc.context);
        if (ctx !== null) this.added.set(cc.id, { id: cc.id, addedAt: index, ...ctx });
        return;
      }
      case 'promote': {
        const m = this.added.get(cc.id);
        if (m !== undefined) this.added.set(cc.id, { ...m, autoPromote: false });
        return;
      }
      case 'remove':
        this.added.delete(cc.id);
        this.removedIds.add(cc.id);
        return;
    }
  }

  /** For the snapshot: JSON, UTF-8. */
  encode(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ added: this.all(), removed: this.removed() }));
  }

  /** Replaces the contents with a snapshot's section (empty bytes: an empty table). Throws on bad bytes. */
  restore(bytes: Uint8Array): void {
    this.added.clear();
    this.removedIds.clear();
    if (bytes.length === 0) return;
    const v = JSON.parse(new TextDecoder().decode(bytes)) as { added?: unknown; removed?: unknown };
    if (!Array.isArray(v.added) || !Array.isArray(v.removed)) throw new Error('membership section: bad shape');
    for (const m of v.added as AddedMember[]) {
      if (
        typeof m.id !== 'string' ||
        typeof m.peerAddr !== 'string' ||
        typeof m.clientAddr !== 'string' ||
        typeof m.incarnation !== 'string'
      ) {
        throw new Error('membership section: bad member');
      }
      this.added.set(m.id, {
        id: m.id,
        peerAddr: m.peerAddr,
        clientAddr: m.clientAddr,
        incarnation: m.incarnation,
        autoPromote: m.autoPromote === true,
        addedAt: Number(m.addedAt) || 0,
      });
    }
    for (const id of v.removed as unknown[]) if (typeof id === 'string') this.removedIds.add(id);
  }
}
