// How a running node learns that it is not, or no longer, a member (start.ts): removal.ts wired in —
// the transport tells removed ids so (its judge reads this node's committed membership), notices
// from peers reach the RemovalWatch (the transport identity's onRemoved), and this node's own log is
// watched for its removal committing. Once removed, the node answers clients with a typed error and,
// after a removed leader has handed over, emits 'fatal' with MemberRemovedError (serve exits with
// EXIT_MEMBER_REMOVED). And a member refused for its identity before it ever saw an entry committed
// stops (StartRefusedError). Any other 'fatal' emitted while starting (a storage error) is held
// here too and emitted again by start() (start-fatal.ts).
import type { Logger } from 'pino';
import type { PeerTransport } from '../transport/peer-transport.ts';
import type { RemovalNotice } from '../transport/removal-notice.ts';
import type { NodeConfig } from './config.ts';
import type { LeaseKvNode } from './node.ts';
import type { OpenedStorage } from './storage-adapter.ts';
import { EntryType } from '../raft/types.ts';
import type { RaftEvent } from '../raft/types.ts';
import { decodeConfEntry } from '../raft/confchange.ts';
import { RemovalWatch } from './removal.ts';
import { holdEarlyFatal } from './start-fatal.ts';
import type { IdentityBook } from './identity.ts';
import { refusalHandler } from './identity-refusal.ts';

/** How often a node whose removal is in force (appended) looks whether it has committed. */
const OWN_REMOVAL_POLL_MS = 50;

export interface RemovalWiring {
  /** For the transport's identity: a peer's removal notice. */
  notice(peer: string, notice: RemovalNotice): void;
  /** Serving: a removal decided from now on (or already) is emitted as 'fatal'. */
  start(): void;
  stop(): void;
}

/** Log index of each removal among the entries read at start (the exact index a refusal names). */
function removalsIn(opened: OpenedStorage, selfId: string): { at: Map<string, number>; self: number | null } {
  const at = new Map<string, number>();
  let self: number | null = (opened.snapshot?.meta.confState.removed ?? []).includes(selfId)
    ? (opened.snapshot?.meta.index ?? null)
    : null;
  for (const e of opened.entries) {
    if (e.type !== EntryType.ConfChange) continue;
    try {
      const { change, confState } = decodeConfEntry(e.data);
      if (change.kind === 'remove') at.set(change.id, e.index);
      if (self === null && e.index <= opened.hardState.commit && (confState.removed ?? []).includes(selfId))
        self = e.index;
    } catch {
      // a malformed change is no change
    }
  }
  return { at, self };
}

/**
 * Throws MemberRemovedError (logged) when this node's data already has its removal committed: a
 * member restarted after its removal must not serve at all.
 */
export function wireRemoval(
  node: LeaseKvNode,
  transport: PeerTransport,
  cfg: NodeConfig,
  book: IdentityBook,
  opened: OpenedStorage,
  log: Logger,
): RemovalWiring {
  const earlyFatal = holdEarlyFatal(node.events);
  const found = removalsIn(opened, cfg.id);
  const removedAt = found.at;
  let serving = false;
  // The first reason to stop; 'fatal' has no listener before serving, so it is emitted from start().
  let decided: Error | null = null;
  const stopFor = (err: Error): void => {
    if (decided !== null) return;
    decided = err;
    if (serving) setImmediate(() => node.events.emit('fatal', err));
  };
  const watch = new RemovalWatch({
    selfId: cfg.id,
    clusterUid: book.record.clusterId,
    commit: () => node.raftStatus().commit,
    log,
    onRemoved: (err) => {
      node.markRemoved(err.message);
      stopFor(err);
    },
  });
  stopOnIdentityRefusal(book, node, log, stopFor);
  // A refused removed id is told the index of the change that removed it when this node saw that
  // entry; else the applied index (the committed configuration there lists it as removed).
  transport.setRemovalJudge((peer) => {
    if (!node.members.isRemoved(peer)) return null;
    const st = node.raftStatus();
    return { index: removedAt.get(peer) ?? st.applied, byLeader: st.role === 'leader' };
  });
  let known = new Set(node.raftStatus().confState.removed ?? []);
  let poll: NodeJS.Timeout | null = null;
  let stopped = false;
  /** The configuration in force removes this node (appended at `index`): wait for it to commit here. */
  const watchOwn = (index: number): void => {
    if (poll !== null || stopped) return;
    let handoverUntilMs: number | null = null;
    poll = setInterval(() => {
      const st = node.raftStatus();
      if (!(st.confState.removed ?? []).includes(cfg.id)) {
        // The change was truncated away (a new leader without it): still a member.
        clearInterval(poll ?? undefined);
        poll = null;
        return;
      }
      if (!node.members.isRemoved(cfg.id)) return;
      node.markRemoved(`this member has been removed from the cluster (index ${index}): ask another member`);
      // A removed leader hands over once its removal commits (docs/lease-safety.md, "A removed
      // leader's lease ends when it leaves"): it exits after that, or after two election timeouts.
      handoverUntilMs ??= performance.now() + 2 * cfg.electionTimeoutMaxMs;
      if (st.role === 'leader' && performance.now() < handoverUntilMs) return;
      clearInterval(poll ?? undefined);
      poll = null;
      watch.ownLog(index);
    }, OWN_REMOVAL_POLL_MS);
    poll.unref();
  };
  if (found.self !== null) {
    watch.ownLog(found.self);
    if (decided !== null) throw decided;
  }

  node.events.on('raft', (e: RaftEvent) => {
    if (e.kind !== 'config') return;
    const removed = node.raftStatus().confState.removed ?? [];
    for (const id of removed) if (!known.has(id)) removedAt.set(id, e.index);
    known = new Set(removed);
    if (removed.includes(cfg.id)) watchOwn(removedAt.get(cfg.id) ?? e.index);
  });
  return {
    notice: (peer, n) => watch.notice(peer, n),
    start() {
      serving = true;
      earlyFatal.serving();
      const err = decided;
      if (err !== null) setImmediate(() => node.events.emit('fatal', err));
      // Appended but not known committed at start: watched like a change appended now.
      const removed = node.raftStatus().confState.removed ?? [];
      if (removed.includes(cfg.id)) watchOwn(removedAt.get(cfg.id) ?? node.raftStatus().confIndex);
    },
    stop() {
      stopped = true;
      if (poll !== null) clearInterval(poll);
      poll = null;
    },
  };
}

/**
 * A peer refused this member for its identity: identity-refusal.ts decides (a member that never saw
 * an entry committed stops). Installed before the transport dials, its 'fatal' emitted once serving:
 * a refusal that came while the client API thread started was dropped before, and the member,
 * caught up meanwhile by a peer that accepts it, then ran on.
 */
function stopOnIdentityRefusal(book: IdentityBook, node: LeaseKvNode, log: Logger, stop: (e: Error) => void): void {
  book.setRefusedHandler(refusalHandler(log, () => node.raftStatus().commit, stop));
}
