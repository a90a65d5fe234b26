// Membership on a running node (start.ts): the Cluster service's backend, the transport's peers
// following the configuration in force, and the incarnations of added members. What a node does
// once it is removed itself is in start-removal.ts.
import type { Logger } from 'pino';
import type { PeerTransport } from '../transport/peer-transport.ts';
import type { NodeConfig, HostPort } from './config.ts';
import { parseHostPort } from './config.ts';
import type { LeaseKvNode } from './node.ts';
import type { OpenedStorage } from './storage-adapter.ts';
import type { ResolvedIdentity } from './identity.ts';
import { Membership } from './membership.ts';
import { DepartingPeers } from './departing-peers.ts';
import { EntryType } from '../raft/types.ts';
import type { ConfChange, RaftEvent } from '../raft/types.ts';
import { decodeConfChange } from '../raft/confchange.ts';

/**
 * Membership on a node: the Cluster service, the transport's peers following the configuration in
 * force (dialled as soon as a change is appended), incarnations of added members for the
 * handshake, Status's member list, and the flags checked against the configuration in force.
 */
export function wireMembership(
  node: LeaseKvNode,
  transport: PeerTransport,
  cfg: NodeConfig,
  resolved: ResolvedIdentity,
  opened: OpenedStorage,
  log: Logger,
): Membership {
  const { book } = resolved;
  const membership = new Membership(
    {
      selfId: cfg.id,
      clusterId: book.record.clusterId,
      heartbeatIntervalMs: cfg.heartbeatIntervalMs,
      raftStatus: () => node.raftStatus(),
      proposeConfChange: (cc, force) => node.proposeConfChange(cc, force),
      transferLeadership: (target) => node.transferTo(target),
      waitApplied: (index, signal) => node.waitAppliedIndex(index, signal),
      table: () => node.members,
      notLeader: (hint) => node.notLeaderError(hint),
    },
    resolved.initial,
    new Set(book.record.how === 'bootstrap' ? book.record.initialMembers.map((m) => m.id) : []),
  );
  for (const e of opened.entries) {
    if (e.type !== EntryType.ConfChange) continue;
    try {
      membership.noteEntry(decodeConfChange(e.data));
    } catch {
      // a malformed change is no change
    }
  }
  book.setAddedIncarnations((id) => membership.addedIncarnation(id));
  node.setMembersView(() => membership.view(node.raftStatus().confState));
  // A departed member keeps its links for two election timeouts (departing-peers.ts).
  const departing = new DepartingPeers<HostPort>(2 * cfg.electionTimeoutMaxMs);
  let recheck: NodeJS.Timeout | null = null;
  const syncPeers = (): void => {
    const cs = node.raftStatus().confState;
    const wanted = new Map<string, HostPort>();
    for (const id of [...cs.voters, ...cs.learners]) {
      if (id === cfg.id) continue;
      const a = membership.addressesOf(id);
      if (a === undefined || a.peerAddr === '') {
        log.warn({ peer: id }, `no peer address known for member ${id}`);
        continue;
      }
      // --peer-routes: this node reaches it elsewhere (a proxy); the recorded address stays as is.
      wanted.set(id, cfg.peerRoutes.get(id) ?? parseHostPort(a.peerAddr, `member ${id}`));
    }
    const now = performance.now();
    const links = departing.next(wanted, now);
    transport.setPeers(links.peers);
    if (recheck !== null) clearTimeout(recheck);
    recheck = links.recheckAtMs === null ? null : setTimeout(syncPeers, links.recheckAtMs - now + 1);
    recheck?.unref();
  };
  node.events.on('conf-entry', (cc: ConfChange) => {
    membership.noteEntry(cc);
    syncPeers();
  });
  node.events.on('raft', (e: RaftEvent) => {
    if (e.kind === 'config') syncPeers();
  });
  syncPeers();
  return membership;
}
