// Which peers the transport keeps linked as members leave. A member removed by a change is out of
// the configuration as soon as the change is appended (single-server changes take effect on append,
// docs/lease-safety.md), but it still needs the others for a while: a removed LEADER learns that its
// removal committed only from their AppendResponses, and only then answers the caller and hands
// over (docs/api.md, "Cluster"). Closing the links at once left it deaf: the call timed out and
// the cluster waited an election timeout for a new leader. So a departed member stays linked for
// a grace period, then the link is closed.

export interface PeerLinks<A> {
  /** The peers to link now: the members in force and those that left less than the grace ago. */
  readonly peers: Map<string, A>;
  /** When the set should be computed again (a departed member's grace ends); null: not needed. */
  readonly recheckAtMs: number | null;
}

export class DepartingPeers<A> {
  private last = new Map<string, A>();
  private readonly leaving = new Map<string, { addr: A; untilMs: number }>();

  constructor(private readonly graceMs: number) {}

  /** `inForce`: the peers of the configuration in force now (self excluded). */
  next(inForce: ReadonlyMap<string, A>, nowMs: number): PeerLinks<A> {
    for (const [id, addr] of this.last) {
      if (!inForce.has(id) && !this.leaving.has(id)) this.leaving.set(id, { addr, untilMs: nowMs + this.graceMs });
    }
    this.last = new Map(inForce);
    const peers = new Map(inForce);
    let recheckAtMs: number | null = null;
    for (const [id, l] of this.leaving) {
      if (inForce.has(id) || l.untilMs <= nowMs) {
        this.leaving.delete(id);
        continue;
      }
      peers.set(id, l.addr);
      recheckAtMs = recheckAtMs === null ? l.untilMs : Math.min(recheckAtMs, l.untilMs);
    }
    return { peers, recheckAtMs };
  }
}
