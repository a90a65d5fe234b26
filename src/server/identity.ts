// Which cluster a data dir belongs to and which member it is (docs/storage.md "Cluster identity").
//
// - A brand-new cluster (empty data dir, --peers given) records its identity at the first start:
//   the cluster id, this member's id and a random incarnation, and the configuration from --peers.
// - A node with data takes its configuration from its data; --peers/--client-addrs, when given,
//   must agree, or the node refuses to start and says which `leasekv member …` command does what
//   the operator meant.
// - Every peer handshake carries the cluster id and the sender's incarnation. A member records each
//   peer's incarnation the first time it connects (before any of its messages is delivered) and
//   refuses any other later: a member whose data dir was wiped comes back with a new incarnation
//   and cannot vote a second time in a term under its old id.
// - A member that has never seen an entry committed and that a peer refuses for its identity
//   stops: it is not the member the cluster knows (a wiped disk, another cluster, not a member at
//   all). A member of a working cluster only logs the refusal (the refused one is the stranger).
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, type Dirent } from 'node:fs';
import { basename, join } from 'node:path';
import { IDENTITY_FILE, readIdentity, writeIdentity } from '../storage/identity.ts';
import { DATA_FORMAT } from '../storage/data_format.ts';
import { VERSION } from './version.ts';
import { SNAPSHOT_FILE } from '../storage/snapshot_file.ts';
import type { IdentityRecord, MemberRecord } from '../storage/identity.ts';
import type { PeerIdentity } from '../transport/options.ts';
import { DEFAULT_CLUSTER_TOKEN, formatHostPort, parseHostPort } from './config.ts';
import type { HostPort, NodeConfig } from './config.ts';
import type { JoinInfo } from './join.ts';

/** The node must not start (or must stop at once): its flags or its peers contradict its data. */
export class StartRefusedError extends Error {
  override readonly name = 'StartRefusedError';
}

/**
 * The cluster id: derived from the cluster token and the bootstrap members' ids, so that the first
 * members, each starting alone on an empty data dir, agree on it without talking. It separates
 * clusters (a node started with another member list or token is refused by every peer); the random
 * incarnations separate a member from a wiped copy of itself.
 */
export function clusterIdFor(token: string, ids: readonly string[]): string {
  return createHash('sha256')
    .update(`leasekv-cluster\n${token}\n${[...ids].sort().join(',')}`)
    .digest('hex')
    .slice(0, 32);
}

export function newIncarnation(): string {
  return randomBytes(8).toString('hex');
}

export interface Members {
  readonly peers: ReadonlyMap<string, HostPort>;
  readonly clientAddrs: ReadonlyMap<string, HostPort>;
}

export function membersOf(records: readonly MemberRecord[]): Members {
  const peers = new Map<string, HostPort>();
  const clientAddrs = new Map<string, HostPort>();
  for (const m of records) {
    peers.set(m.id, parseHostPort(m.peerAddr, `member ${m.id}`));
    if (m.clientAddr !== '') clientAddrs.set(m.id, parseHostPort(m.clientAddr, `member ${m.id}`));
  }
  return { peers, clientAddrs };
}

function recordsOf(cfg: NodeConfig): MemberRecord[] {
  return [...cfg.peers].map(([id, hp]) => {
    const ca = cfg.clientAddrs.get(id);
    return { id, peerAddr: formatHostPort(hp), clientAddr: ca === undefined ? '' : formatHostPort(ca) };
  });
}

/** `--endpoints` for the hints: the members' client addresses. */
function endpointsOf(m: Members): string {
  const eps = [...m.clientAddrs.values()].map(formatHostPort);
  return eps.length === 0 ? 'CLIENT-ADDR,…' : eps.join(',');
}

/**
 * What --peers/--client-addrs say that the configuration in force does not, as one message naming
 * the `leasekv member` command that does what the operator meant; null when they agree.
 */
export function describeDisagreement(cfg: NodeConfig, inForce: Members, clusterId: string): string | null {
  const problems: string[] = [];
  const ids = [...inForce.peers.keys()];
  const ep = endpointsOf(inForce);
  if (cfg.peersGiven) {
    const added = [...cfg.peers.keys()].filter((id) => !inForce.peers.has(id));
    const missing = ids.filter((id) => !cfg.peers.has(id));
    if (added.length > 0) {
      const cmds = added.map(
        (id) =>
          `\`leasekv member add ${id} --peer-addr ${formatHostPort(cfg.peers.get(id) as HostPort)} --client-addr ${fmtOr(cfg.clientAddrs.get(id), 'HOST:PORT')} --endpoints ${ep}\``,
      );
      problems.push(
        `--peers adds ${added.join(', ')}, which ${added.length === 1 ? 'is not a member' : 'are not members'}; to add a member run ${cmds.join(' and ')} on the running cluster, then start it with \`leasekv serve --id ID … --join ${ep}\``,
      );
    }
    if (missing.length > 0) {
      problems.push(
        `--peers leaves out ${missing.join(', ')}, which ${missing.length === 1 ? 'is a member' : 'are members'}; to remove a member run ${missing.map((id) => `\`leasekv member remove ${id} --endpoints ${ep}\``).join(' and ')}`,
      );
    }
    for (const [id, hp] of cfg.peers) {
      const known = inForce.peers.get(id);
      if (known !== undefined && formatHostPort(known) !== formatHostPort(hp)) {
        problems.push(
          `--peers gives ${id} the peer address ${formatHostPort(hp)}, but the cluster knows it at ${formatHostPort(known)}; a member's address does not change: replace the member (\`leasekv member add\` a new one on the new address, then \`leasekv member remove ${id}\`)`,
        );
      }
    }
  }
  for (const [id, hp] of cfg.clientAddrs) {
    if (!inForce.peers.has(id)) {
      if (!cfg.peersGiven) problems.push(`--client-addrs names ${id}, which is not a member`);
      continue;
    }
    const known = inForce.clientAddrs.get(id);
    if (known !== undefined && formatHostPort(known) !== formatHostPort(hp)) {
      problems.push(
        `--client-addrs gives ${id} the client address ${formatHostPort(hp)}, but the cluster knows it at ${formatHostPort(known)}`,
      );
    }
  }
  if (problems.length === 0) return null;
  return `this data dir belongs to member ${cfg.id} of cluster ${clusterId} with members ${ids.join(', ')}, and the flags disagree:\n  - ${problems.join('\n  - ')}\n(leave --peers and --client-addrs out to start with the members recorded in the data dir)`;
}

/**
 * A first member's client address that the data dir does not record (bootstrapped or restored
 * without --client-addrs) is taken from --client-addrs: it is only a hint for clients, each node's
 * own view. A recorded one wins (checkFlags refuses a flag that disagrees with it).
 */
function withClientAddrs(records: readonly MemberRecord[], cfg: NodeConfig): readonly MemberRecord[] {
  return records.map((m) => {
    const hp = m.clientAddr === '' ? cfg.clientAddrs.get(m.id) : undefined;
    return hp === undefined ? m : { ...m, clientAddr: formatHostPort(hp) };
  });
}

function fmtOr(hp: HostPort | undefined, dflt: string): string {
  return hp === undefined ? dflt : formatHostPort(hp);
}

/** The recorded identity, kept up to date on disk as peers are first seen. */
export class IdentityBook {
  private onRefused: (reason: string) => void = () => {};
  private addedIncarnation: (id: string) => string | undefined = () => undefined;

  constructor(
    private readonly dir: string,
    private rec: IdentityRecord,
    /** Created by this start (a new member of a new cluster). */
    readonly createdNow: boolean,
  ) {}

  get record(): IdentityRecord {
    return this.rec;
  }

  /** The incarnation a member was added with (`member add`), for members that joined. */
  setAddedIncarnations(f: (id: string) => string | undefined): void {
    this.addedIncarnation = f;
  }

  /** Called when a peer refuses this member for its identity. */
  setRefusedHandler(h: (reason: string) => void): void {
    this.onRefused = h;
  }

  private save(next: IdentityRecord): void {
    // Synchronous and rare (once per peer for life): the record must be durable before the peer's
    // first message is delivered, and a handshake is answered synchronously.
    writeIdentity(this.dir, next);
    this.rec = next;
  }

  /** The transport's view: handshake fields and checks. */
  peerIdentity(): PeerIdentity {
    return {
      clusterUid: this.rec.clusterId,
      incarnation: this.rec.incarnation,
      verify: (from, _uid, incarnation) => this.verify(from, incarnation),
      onRefused: (peer, reason) => this.onRefused(`node ${peer} refused this member: ${reason}`),
    };
  }

  private verify(from: string, incarnation: string): string | null {
    if (incarnation === '') return `node ${from} sent no incarnation`;
    // A member that joined uses ADDED.RANDOM: ADDED was chosen by \`member add\` (so only the member
    // that was added can join), RANDOM by the joining data dir (so a wiped copy is told apart).
    const added = this.addedIncarnation(from);
    if (added !== undefined && !incarnation.startsWith(`${added}.`)) {
      return `member ${from} was added with incarnation ${added}, but this node ${from} has incarnation ${incarnation}: it is not the member that was added`;
    }
    const known = this.rec.peerIncarnations[from];
    if (known === undefined) {
      this.save({ ...this.rec, peerIncarnations: { ...this.rec.peerIncarnations, [from]: incarnation } });
      return null;
    }
    if (known === incarnation) return null;
    return (
      `member ${from} of cluster ${this.rec.clusterId} has incarnation ${known}, but this node ${from} has incarnation ${incarnation}: ` +
      `its data dir is not the one the cluster knows (a lost or wiped disk?) and its old vote is lost, so it may not rejoin under this id. ` +
      `Replace it instead: \`leasekv member remove ${from}\`, then \`leasekv member add\` a new member (another id) and start it with --join (README "Running nodes on several hosts")`
    );
  }
}

/** `rec` marked as written by this build in its data format (data_format.ts). */
function stamp(rec: IdentityRecord): IdentityRecord {
  return { ...rec, dataFormat: DATA_FORMAT, writtenBy: VERSION };
}

/** What resolveIdentity found or created: the record and the members this node starts with. */
export interface ResolvedIdentity {
  readonly book: IdentityBook;
  readonly initial: readonly MemberRecord[];
  /** The members of `initial` that are learners (a joining member's view; else none). */
  readonly learners: readonly string[];
}

/**
 * Reads or creates the identity of `cfg.dataDir`. `walFresh`: the WAL holds nothing (no term, no
 * entry, no snapshot). `join`: what a current member answered (serve --join on an empty data dir).
 * The flags are checked against the configuration in force later (checkFlags), once the log is read.
 */
/** A folder holds a member's data: its identity record, WAL segments or snapshot (docs/storage.md). */
export function holdsMemberData(dir: string): boolean {
  try {
    return readdirSync(dir).some(
      (name) => name === IDENTITY_FILE || name === SNAPSHOT_FILE || /^[0-9a-f]{16}\.wal$/.test(name),
    );
  } catch {
    return false;
  }
}

/**
 * Refuses, before anything is created in it, a data dir that holds no member's data when that is
 * wrong: when it holds the data dirs of members instead (the parent of `leasekv up`'s data/n1 …,
 * or /var/lib/leasekv for /var/lib/leasekv/n1; with --peers the node would bootstrap a second
 * cluster beside them), or when neither --peers nor --join (`newMember`) says this is a new member
 * (opening the storage first would leave a WAL segment behind, which makes the folder look like a
 * member's on the next start).
 */
export function refuseDataDirWithoutData(dataDir: string, id: string, newMember: boolean): void {
  if (holdsMemberData(dataDir)) return;
  let entries: Dirent[];
  try {
    entries = readdirSync(dataDir, { withFileTypes: true });
  } catch {
    return;
  }
  const inside = entries
    .filter((d) => d.isDirectory() && holdsMemberData(join(dataDir, d.name)))
    .map((d) => join(dataDir, d.name))
    .sort();
  if (inside.length > 0) {
    const own = inside.find((d) => basename(d) === id) ?? inside[0];
    throw new StartRefusedError(
      `the data dir ${dataDir} holds no member's data but the data dirs ${inside.join(', ')}: give a member's own folder, e.g. --data-dir ${own}`,
    );
  }
  if (!newMember) {
    const what = entries.length === 0 ? 'is empty' : "holds no member's data";
    throw new StartRefusedError(`the data dir ${dataDir} ${what}: ${NEW_MEMBER_FLAGS}`);
  }
}

/** What a member without data needs (said when its data dir is empty or not there). */
export const NEW_MEMBER_FLAGS =
  "give --peers to bootstrap a brand-new cluster (every member's data dir empty), or --join to start a member added with `leasekv member add`";

export function resolveIdentity(cfg: NodeConfig, walFresh: boolean, join: JoinInfo | null): ResolvedIdentity {
  const rec = readIdentity(cfg.dataDir);
  if (rec !== null) {
    if (rec.memberId !== cfg.id) {
      throw new StartRefusedError(
        `the data dir ${cfg.dataDir} belongs to member ${rec.memberId} of cluster ${rec.clusterId}, not to ${cfg.id}: start it with --id ${rec.memberId}, or give ${cfg.id} its own data dir`,
      );
    }
    if (rec.clusterToken !== cfg.clusterToken) {
      throw new StartRefusedError(
        `the data dir ${cfg.dataDir} belongs to a cluster with token ${JSON.stringify(rec.clusterToken)}, not ${JSON.stringify(cfg.clusterToken)}${cfg.clusterToken === DEFAULT_CLUSTER_TOKEN ? ' (the default: no --cluster-token given)' : ''}: start it with --cluster-token ${rec.clusterToken}`,
      );
    }
    // The WAL was opened (and upgraded in place) before this: the folder is now this build's format.
    const marked = rec.dataFormat === DATA_FORMAT && rec.writtenBy === VERSION ? rec : stamp(rec);
    if (marked !== rec) writeIdentity(cfg.dataDir, marked);
    // A member that joined started as a learner: if its log holds no configuration yet (stopped
    // before the leader's snapshot arrived), it must not start as a voter of its own view.
    return {
      book: new IdentityBook(cfg.dataDir, marked, false),
      initial: withClientAddrs(rec.initialMembers, cfg),
      learners: rec.how === 'join' ? [rec.memberId] : [],
    };
  }
  if (join !== null) return joinIdentity(cfg, walFresh, join);
  if (!cfg.peersGiven) {
    throw new StartRefusedError(
      walFresh
        ? `the data dir ${cfg.dataDir} is empty: ${NEW_MEMBER_FLAGS}`
        : `the data dir ${cfg.dataDir} has data but no identity record (written by an older leasekv): start it once with the --peers it ran with`,
    );
  }
  // A brand-new member of a brand-new cluster (or, walFresh false, data from before identity
  // records, adopted with the members it was started with).
  const created: IdentityRecord = {
    clusterId: clusterIdFor(cfg.clusterToken, [...cfg.peers.keys()]),
    clusterToken: cfg.clusterToken,
    memberId: cfg.id,
    incarnation: newIncarnation(),
    how: 'bootstrap',
    createdAt: new Date().toISOString(),
    initialMembers: recordsOf(cfg),
    peerIncarnations: {},
    dataFormat: DATA_FORMAT,
    writtenBy: VERSION,
  };
  writeIdentity(cfg.dataDir, created);
  return { book: new IdentityBook(cfg.dataDir, created, true), initial: created.initialMembers, learners: [] };
}

function joinIdentity(cfg: NodeConfig, walFresh: boolean, join: JoinInfo): ResolvedIdentity {
  if (!walFresh)
    throw new StartRefusedError(
      `--join needs an empty data dir, and ${cfg.dataDir} has data without an identity record`,
    );
  const ids = join.members.map((m) => m.id);
  if (join.removed.includes(cfg.id)) {
    throw new StartRefusedError(
      `${cfg.id} was removed from cluster ${join.clusterId} (members ${ids.join(', ')}) and an id never comes back: add a member under another id`,
    );
  }
  const me = join.members.find((m) => m.id === cfg.id);
  if (me === undefined) {
    throw new StartRefusedError(
      `${cfg.id} is not a member of cluster ${join.clusterId} (members ${ids.join(', ')}, asked ${join.from}): add it first with \`leasekv member add ${cfg.id} --peer-addr ${formatHostPort(cfg.listenPeer)} --client-addr ${formatHostPort(cfg.listenClient)} --endpoints ${join.from}\``,
    );
  }
  if (me.incarnation === '') {
    throw new StartRefusedError(
      `${cfg.id} is one of the first members of cluster ${join.clusterId}, not a member just added: it cannot join with an empty data dir (its old vote is lost); replace it (\`leasekv member remove ${cfg.id}\`, then add a member under another id)`,
    );
  }
  const created: IdentityRecord = {
    clusterId: join.clusterId,
    clusterToken: cfg.clusterToken,
    memberId: cfg.id,
    incarnation: `${me.incarnation}.${newIncarnation()}`,
    how: 'join',
    createdAt: new Date().toISOString(),
    initialMembers: join.members.map((m) => ({ id: m.id, peerAddr: m.peerAddr, clientAddr: m.clientAddr })),
    peerIncarnations: {},
    dataFormat: DATA_FORMAT,
    writtenBy: VERSION,
  };
  writeIdentity(cfg.dataDir, created);
  return {
    book: new IdentityBook(cfg.dataDir, created, true),
    initial: created.initialMembers,
    learners: join.members.filter((m) => m.learner).map((m) => m.id),
  };
}

/** Refuses flags that disagree with the configuration in force (from the data dir). */
export function checkFlags(cfg: NodeConfig, inForce: Members, clusterId: string): void {
  const why = describeDisagreement(cfg, inForce, clusterId);
  if (why !== null) throw new StartRefusedError(why);
}
