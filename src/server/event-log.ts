// The lease story in plain words: the core's events as the node's event log (pino) prints them.
import type { Logger } from 'pino';
import type { RaftEvent } from '../raft/types.ts';
import { unreachable } from '../util/assert.ts';

export function logRaftEvent(log: Logger, e: RaftEvent): void {
  switch (e.kind) {
    case 'role':
      if (e.role === 'leader') log.info({ term: e.term }, `became leader for term ${e.term}`);
      else
        log.info(
          { term: e.term, role: e.role, leader: e.leader },
          `became ${e.role} in term ${e.term}${e.leader === null ? '' : `, leader ${e.leader}`}`,
        );
      return;
    case 'election-timeout':
      log.info(
        { term: e.term, preVote: e.preVote },
        e.preVote ? 'election timer fired, starting pre-vote' : 'election timer fired, starting election',
      );
      return;
    case 'vote':
      log.info(
        { candidate: e.candidate, term: e.term, reason: e.reason },
        `vote ${e.granted ? 'granted' : 'denied'} for node ${e.candidate} in term ${e.term}`,
      );
      return;
    case 'lease-acquired':
      log.info({ term: e.term, untilMs: Math.round(e.untilMs) }, 'lease acquired');
      return;
    case 'lease-renewed':
      log.debug({ term: e.term, untilMs: Math.round(e.untilMs) }, 'sending heartbeat and renewing lease');
      return;
    case 'lease-lost':
      log.warn({ term: e.term, reason: e.reason }, `lease lost: ${e.reason}`);
      return;
    case 'waiting-old-lease':
      log.info(
        { term: e.term, untilMs: Math.round(e.untilMs) },
        "new leader waiting for the old leader's lease to time out",
      );
      return;
    case 'old-lease-seen':
      log.debug({ leader: e.leader, term: e.term, untilMs: Math.round(e.untilMs) }, "recorded the leader's lease");
      return;
    case 'step-down':
      log.warn({ term: e.term, reason: e.reason }, e.reason);
      return;
    case 'append-rejected':
      log.info({ from: e.from, term: e.term, index: e.index }, `AppendEntries rejected from ${e.from}`);
      return;
    case 'commit':
      log.debug({ index: e.index, term: e.term }, 'entry committed');
      return;
    case 'config':
      log.info(
        { index: e.index, voters: e.voters, learners: e.learners },
        `configuration in force from index ${e.index}: voters ${e.voters}${e.learners === '' ? '' : `, learners ${e.learners}`}`,
      );
      return;
    default:
      // Every kind the core reports has its line: a new kind fails to compile here.
      unreachable(e, 'raft event');
  }
}
