// Membership changes at the leader: the rules that make single-server changes safe, for the log and
// for leases (docs/lease-safety.md, "Leases across configurations"):
//   1. an entry of the leader's own term is committed before it appends a change (Ongaro, raft-dev
//      2015: otherwise two leaders' uncommitted changes can yield disjoint majorities);
//   2. one change in flight: no new change while the last ConfChange in the log is uncommitted;
//   3. the lease is valid and re-confirmed in the configuration in force: a heartbeat round sent
//      after the latest change was acknowledged by a majority of it (CockroachDB's leader-lease rule).
//      So a valid lease is always backed by a majority of the configuration in force or of the
//      one before it, and every majority of the next configuration intersects both;
//   4. no change that leaves fewer healthy voters than a majority of the new configuration (unless
//      forced), and no promotion of a learner that is not caught up.
import { applyChange, encodeConfChange, majority } from './confchange.ts';
import type { Core } from './core.ts';
import { broadcastRound } from './reads.ts';
import { Progress } from './progress.ts';
import { EntryType } from './types.ts';
import type { ConfChange, NodeId } from './types.ts';

export type ConfChangeRefusal =
  | 'not-leader'
  | 'change-in-flight'
  | 'lease-not-confirmed'
  | 'learner-not-caught-up'
  | 'would-lose-quorum'
  | 'unknown-member'
  | 'already-member'
  | 'removed-id'
  | 'too-many-members';

export type ConfChangeResult =
  | { readonly ok: true; readonly index: number }
  | {
      readonly ok: false;
      readonly reason: ConfChangeRefusal;
      readonly message: string;
      readonly leaderHint: NodeId | null;
    };

/**
 * Caught up: heard from within an election timeout, replicating normally (not probing or waiting
 * for a snapshot), and its match index at most `slack` entries behind the leader's commit index now.
 * A promotion uses slack 0 (it holds everything committed when it is asked); a transfer uses one
 * AppendRequest's worth (the leader brings the target fully up to date before TimeoutNow anyway).
 */
export function caughtUp(c: Core, pr: Progress, nowMs: number, slack: number): boolean {
  return (
    pr.state === 'replicate' &&
    nowMs - pr.lastHeardMs < c.cfg.electionTimeoutMinMs &&
    pr.match + slack >= c.log.committed
  );
}

/** Voters of `voters` the leader heard from within an election timeout (itself included). */
function healthyVoters(c: Core, voters: readonly NodeId[], nowMs: number): number {
  let n = 0;
  for (const v of voters) {
    if (v === c.cfg.id) n++;
    else {
      const pr = c.progress.get(v);
      if (pr !== undefined && nowMs - pr.lastHeardMs < c.cfg.electionTimeoutMinMs) n++;
    }
  }
  return n;
}

function refuse(c: Core, reason: ConfChangeRefusal, message: string): ConfChangeResult {
  return { ok: false, reason, message, leaderHint: c.role === 'leader' ? c.cfg.id : c.leader };
}

export function proposeConfChange(c: Core, cc: ConfChange, nowMs: number, force: boolean): ConfChangeResult {
  const lease = c.lease;
  if (c.role !== 'leader' || lease === null) return refuse(c, 'not-leader', 'not the leader');
  if (c.transferTarget !== null) return refuse(c, 'not-leader', `handing leadership over to ${c.transferTarget}`);
  // MUTANT change-before-term-commit: the 2015 single-server bug (no own-term entry committed yet).
  if (c.log.committed < c.noopIndex && c.cfg.mutant !== 'change-before-term-commit') {
    return refuse(c, 'lease-not-confirmed', "no entry of this leader's term is committed yet");
  }
  if (c.log.conf.lastChangeIndex() > c.log.committed) {
    return refuse(c, 'change-in-flight', `the change at index ${c.log.conf.lastChangeIndex()} is not committed yet`);
  }
  if (!lease.isValid(nowMs) || lease.quorumRound < c.confRound) {
    return refuse(
      c,
      'lease-not-confirmed',
      'the lease is not (yet) confirmed by a majority of the configuration in force',
    );
  }
  const next = applyChange(c.conf(), cc);
  if ('refused' in next) return refuse(c, next.refused, next.message);
  if (cc.id === c.cfg.id && cc.kind !== 'remove') return refuse(c, 'already-member', `${cc.id} is this leader`);
  if (cc.kind === 'promote') {
    const pr = c.progress.get(cc.id);
    if (pr === undefined || !caughtUp(c, pr, nowMs, 0)) {
      const where = pr === undefined ? 'nothing' : `match ${pr.match} (${pr.state})`;
      return refuse(
        c,
        'learner-not-caught-up',
        `${cc.id} is not caught up: it holds ${where}, the commit index is ${c.log.committed}`,
      );
    }
  }
  if (cc.kind !== 'add-learner' && !force) {
    const healthy = healthyVoters(c, next.voters, nowMs);
    if (healthy < majority(next.voters)) {
      return refuse(
        c,
        'would-lose-quorum',
        `only ${healthy} of the ${next.voters.length} voters after this change answered recently; a majority is ${majority(next.voters)} (force to override)`,
      );
    }
  }
  const index = c.log.lastIndex() + 1;
  c.log.append({ index, term: c.term, type: EntryType.ConfChange, data: encodeConfChange(cc, next) });
  // In force from now on (thesis §4.1): track the new member, forget the removed one.
  if (cc.kind === 'add-learner') c.progress.set(cc.id, new Progress(index, nowMs));
  if (cc.kind === 'remove') c.progress.delete(cc.id);
  if (cc.kind === 'promote') lease.onPromoted(cc.id, nowMs);
  else lease.recount(nowMs);
  c.noteConf();
  // This round carries the entry and is the re-confirmation round of the new configuration.
  c.confRound = lease.round + 1;
  broadcastRound(c, nowMs);
  return { ok: true, index };
}
