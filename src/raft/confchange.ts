// Membership: the ConfChange entry codec, how one change transforms a configuration, and majorities.
//
// leasekv uses single-server changes (Raft thesis §4.1): each entry changes one member's role, and a
// node uses the latest configuration in its log from the moment the entry is APPENDED, committed or
// not. Any majority of a configuration and any majority of the next one therefore intersect. Every
// ConfChange entry also carries the configuration that results from it, so the configuration at
// any index is "the last ConfChange at or below it, else the snapshot's, else the bootstrap one",
// whatever base a node started from (a joining node starts from the configuration it was told).
import { MAX_MEMBERS } from './config.ts';
import type { ConfChange, ConfState, NodeId } from './types.ts';

/** A malformed ConfChange entry (from a peer or a damaged log): the caller treats it as no change. */
export class ConfDecodeError extends Error {
  override readonly name = 'ConfDecodeError';
}

const KINDS: readonly ConfChange['kind'][] = ['add-learner', 'promote', 'remove'];
const FORMAT = 1;
/** Limits that keep a decoder from allocating what a damaged length claims. */
const MAX_ID_BYTES = 256;
const MAX_CONTEXT_BYTES = 64 * 1024;
const MAX_LIST = 1024;

/** A ConfChange entry's payload: the change and the configuration it results in. */
export interface ConfEntry {
  readonly change: ConfChange;
  readonly confState: ConfState;
}

class Out {
  private readonly parts: number[] = [];
  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  u32(v: number): this {
    return this.u8(v >>> 24)
      .u8(v >>> 16)
      .u8(v >>> 8)
      .u8(v);
  }
  bytes(b: Uint8Array): this {
    this.u32(b.length);
    for (const x of b) this.parts.push(x);
    return this;
  }
  str(s: string): this {
    return this.bytes(new TextEncoder().encode(s));
  }
  list(ids: readonly NodeId[]): this {
    this.u32(ids.length);
    for (const id of ids) this.str(id);
    return this;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

class In {
  private pos = 0;
  constructor(private readonly b: Uint8Array) {}
  u8(): number {
    const v = this.b[this.pos];
    if (v === undefined) throw new ConfDecodeError('truncated conf change');
    this.pos++;
    return v;
  }
  u32(): number {
    return ((this.u8() << 24) | (this.u8() << 16) | (this.u8() << 8) | this.u8()) >>> 0;
  }
  bytes(max: number): Uint8Array {
    const n = this.u32();
    if (n > max || this.pos + n > this.b.length) throw new ConfDecodeError(`conf change field of ${n} bytes`);
    const out = this.b.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  str(): string {
    const s = new TextDecoder('utf-8', { fatal: true }).decode(this.bytes(MAX_ID_BYTES));
    if (s.length === 0) throw new ConfDecodeError('empty member id');
    return s;
  }
  list(): NodeId[] {
    const n = this.u32();
    if (n > MAX_LIST) throw new ConfDecodeError(`member list of ${n}`);
    const out: NodeId[] = [];
    for (let i = 0; i < n; i++) out.push(this.str());
    return out;
  }
  end(): void {
    if (this.pos !== this.b.length) throw new ConfDecodeError('trailing bytes in conf change');
  }
}

/** The bytes of a ConfChange entry: the change and the configuration after it. */
export function encodeConfChange(change: ConfChange, confState: ConfState): Uint8Array {
  return new Out()
    .u8(FORMAT)
    .u8(KINDS.indexOf(change.kind))
    .str(change.id)
    .bytes(change.context)
    .list(confState.voters)
    .list(confState.learners)
    .list(confState.removed ?? [])
    .done();
}

/** Decodes a ConfChange entry's data. Throws ConfDecodeError on malformed input. */
export function decodeConfEntry(data: Uint8Array): ConfEntry {
  const r = new In(data);
  if (r.u8() !== FORMAT) throw new ConfDecodeError('unknown conf change format');
  const kind = KINDS[r.u8()];
  if (kind === undefined) throw new ConfDecodeError('unknown conf change kind');
  const id = r.str();
  const context = r.bytes(MAX_CONTEXT_BYTES);
  const voters = r.list();
  const learners = r.list();
  const removed = r.list();
  r.end();
  const confState: ConfState = { voters, learners, removed };
  const bad = checkConfState(confState);
  if (bad !== null) throw new ConfDecodeError(bad);
  return { change: { kind, id, context }, confState };
}

/** Just the change of a ConfChange entry (what a host's membership table needs). */
export function decodeConfChange(data: Uint8Array): ConfChange {
  return decodeConfEntry(data).change;
}

/** Null if `cs` is well formed (disjoint lists, at least one voter), else what is wrong. */
export function checkConfState(cs: ConfState): string | null {
  const all = [...cs.voters, ...cs.learners, ...(cs.removed ?? [])];
  if (cs.voters.length === 0) return 'configuration without voters';
  if (new Set(all).size !== all.length) return `configuration lists a member twice: ${all.join(',')}`;
  return null;
}

export type ChangeRefusal =
  'unknown-member' | 'already-member' | 'removed-id' | 'would-lose-quorum' | 'too-many-members';

/** The configuration after `cc`, or why it cannot apply to `cs`. */
export function applyChange(cs: ConfState, cc: ConfChange): ConfState | { refused: ChangeRefusal; message: string } {
  const voters = cs.voters.slice();
  const learners = cs.learners.slice();
  const removed = (cs.removed ?? []).slice();
  const isVoter = voters.includes(cc.id);
  const isLearner = learners.includes(cc.id);
  if (removed.includes(cc.id))
    return {
      refused: 'removed-id',
      message: `${cc.id} was removed from the cluster; a removed id never comes back (add the member under a new id)`,
    };
  switch (cc.kind) {
    case 'add-learner':
      if (isVoter || isLearner)
        return { refused: 'already-member', message: `${cc.id} is already a ${isVoter ? 'voter' : 'learner'}` };
      if (voters.length + learners.length >= MAX_MEMBERS) {
        return {
          refused: 'too-many-members',
          message: `the cluster has ${voters.length + learners.length} members; at most ${MAX_MEMBERS} are supported`,
        };
      }
      return { voters, learners: [...learners, cc.id], removed };
    case 'promote':
      if (isVoter) return { refused: 'already-member', message: `${cc.id} is already a voter` };
      if (!isLearner)
        return {
          refused: 'unknown-member',
          message: `${cc.id} is not a learner of this cluster (add it as a learner first)`,
        };
      return { voters: [...voters, cc.id], learners: learners.filter((x) => x !== cc.id), removed };
    case 'remove':
      if (!isVoter && !isLearner)
        return { refused: 'unknown-member', message: `${cc.id} is not a member of this cluster` };
      if (isVoter && voters.length === 1)
        return { refused: 'would-lose-quorum', message: `${cc.id} is the last voter` };
      return {
        voters: voters.filter((x) => x !== cc.id),
        learners: learners.filter((x) => x !== cc.id),
        removed: [...removed, cc.id],
      };
  }
}

/** Votes or acknowledgements that make a majority of `voters`. */
export function majority(voters: readonly NodeId[]): number {
  return Math.floor(voters.length / 2) + 1;
}

/**
 * The highest value v such that a majority of `voters` have value(id) >= v (commit index, lease
 * round). Allocates one small array; voters lists are at most a few entries long.
 */
export function quorumValue(voters: readonly NodeId[], value: (id: NodeId) => number): number {
  const vs = voters.map(value);
  vs.sort((a, b) => b - a);
  return vs[majority(voters) - 1] ?? 0;
}

export function sameConf(a: ConfState, b: ConfState): boolean {
  const eq = (x: readonly NodeId[], y: readonly NodeId[]): boolean =>
    x.length === y.length && x.every((v, i) => v === y[i]);
  return eq(a.voters, b.voters) && eq(a.learners, b.learners) && eq(a.removed ?? [], b.removed ?? []);
}

/**
 * The configurations in one node's log: a base (snapshot's, or the bootstrap one at index 0) and
 * the ConfChange entries after it, newest last. RaftLog keeps it in step with every append,
 * truncation, compaction and snapshot install, so a truncated, uncommitted change reverts.
 */
export class ConfHistory {
  private baseIndex: number;
  private base: ConfState;
  private readonly changes: { index: number; state: ConfState }[] = [];
  /** Bumped whenever current() changes, so callers can cache what they derive from it. */
  version = 0;

  constructor(baseIndex: number, base: ConfState) {
    this.baseIndex = baseIndex;
    this.base = base;
  }

  current(): ConfState {
    return this.changes[this.changes.length - 1]?.state ?? this.base;
  }

  /** Index of the latest ConfChange entry in the log (or of the base). */
  lastChangeIndex(): number {
    return this.changes[this.changes.length - 1]?.index ?? this.baseIndex;
  }

  /** The configuration in force at `index` (for a snapshot taken there). */
  at(index: number): ConfState {
    let s = this.base;
    for (const c of this.changes) if (c.index <= index) s = c.state;
    return s;
  }

  /** A ConfChange entry was appended at `index`. A malformed one changes nothing (on every node alike). */
  onAppend(index: number, data: Uint8Array): void {
    let state: ConfState;
    try {
      state = decodeConfEntry(data).confState;
    } catch (e) {
      if (e instanceof ConfDecodeError) return;
      throw e;
    }
    this.changes.push({ index, state });
    this.version++;
  }

  /** Entries from `index` on were removed from the log. */
  truncateFrom(index: number): void {
    const before = this.changes.length;
    while ((this.changes[this.changes.length - 1]?.index ?? -1) >= index) this.changes.pop();
    if (this.changes.length !== before) this.version++;
  }

  /** The log prefix up to `index` became a snapshot. */
  compact(index: number): void {
    if (index <= this.baseIndex) return;
    this.base = this.at(index);
    this.baseIndex = index;
    while ((this.changes[0]?.index ?? Number.POSITIVE_INFINITY) <= index) this.changes.shift();
  }

  /** The whole log was replaced by a snapshot. */
  reset(index: number, state: ConfState): void {
    this.baseIndex = index;
    this.base = state;
    this.changes.length = 0;
    this.version++;
  }
}
