// The core's unit-test kit, part two: one node driven by hand (Solo) and builders for the messages
// tests feed it. Pure like the core. TestCluster is in testkit.ts, which re-exports these.
import type { RaftConfigInput } from './config.ts';
import { validateRaftConfig } from './config.ts';
import { RaftNode } from './node.ts';
import type { Entry, Message, NodeId, RaftEvent, ReadState } from './types.ts';

/** One node driven by hand: feed it messages, collect what it sends. */
export class Solo {
  readonly node: RaftNode;
  nowMs: number;
  readonly events: RaftEvent[] = [];
  readonly readStates: ReadState[] = [];

  constructor(
    id: NodeId,
    members: readonly NodeId[],
    opts: {
      term?: number;
      votedFor?: NodeId | null;
      logTerms?: readonly number[];
      nowMs?: number;
      overrides?: Partial<RaftConfigInput>;
      random?: number;
    } = {},
  ) {
    this.nowMs = opts.nowMs ?? 1000;
    const config = validateRaftConfig({ ...opts.overrides, id, members });
    const random = (): number => opts.random ?? 0;
    const restore = opts.term !== undefined || opts.logTerms !== undefined;
    const entries: Entry[] = (opts.logTerms ?? []).map((term, i) => ({
      index: i + 1,
      term,
      type: 0,
      data: new Uint8Array(0),
    }));
    this.node = restore
      ? new RaftNode({
          config,
          random,
          nowMs: this.nowMs,
          restored: {
            hardState: { term: opts.term ?? 0, votedFor: opts.votedFor ?? null, commit: 0 },
            snapshot: null,
            entries,
          },
        })
      : new RaftNode({ config, random, nowMs: this.nowMs });
    this.drain();
  }

  /** Steps `m` at the current time (after moving the clock by `afterMs`) and returns what it sent. */
  step(m: Message, afterMs = 0): Message[] {
    this.nowMs += afterMs;
    this.node.step(m, this.nowMs);
    return this.drain();
  }

  tick(afterMs: number): Message[] {
    this.nowMs += afterMs;
    this.node.tick(this.nowMs);
    return this.drain();
  }

  drain(): Message[] {
    const out: Message[] = [];
    for (;;) {
      const rd = this.node.ready(this.nowMs);
      if (rd === null) return out;
      for (const o of rd.messages) out.push(o.msg);
      this.events.push(...rd.events);
      this.readStates.push(...rd.readStates);
      this.node.advance(rd, this.nowMs);
    }
  }
}

export function voteReq(
  from: NodeId,
  to: NodeId,
  term: number,
  lastLogIndex: number,
  lastLogTerm: number,
  extra: { preVote?: boolean; transfer?: boolean } = {},
): Message {
  return {
    type: 'vote',
    from,
    to,
    term,
    lastLogIndex,
    lastLogTerm,
    preVote: extra.preVote ?? false,
    transfer: extra.transfer ?? false,
  };
}

export function heartbeat(
  from: NodeId,
  to: NodeId,
  term: number,
  extra: Partial<{
    leaseDurationMs: number;
    round: number;
    commit: number;
    prevLogIndex: number;
    prevLogTerm: number;
  }> = {},
): Message {
  return {
    type: 'app',
    from,
    to,
    term,
    prevLogIndex: extra.prevLogIndex ?? 0,
    prevLogTerm: extra.prevLogTerm ?? 0,
    entries: [],
    commit: extra.commit ?? 0,
    leaseDurationMs: extra.leaseDurationMs ?? 900,
    round: extra.round ?? 1,
  };
}
