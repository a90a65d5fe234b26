// What a re-run of `leasekv up` starts: the cluster as it is now, not as it was bootstrapped. The
// members may have changed since (the dashboard's Add member / Remove, or `leasekv member add` and a
// hand-started `serve --join`, `leasekv member remove`), and the cluster records every change in its
// log. So `up` reads each data dir it holds (DATA_DIR/n1 … n5, read-only, like `leasekv wal inspect`)
// and takes the committed configuration of the one that has committed the most: no change committed
// after it can be missing from it (changes are committed in log order). Members it lists and whose
// data dirs are here are started; removed ones are not; what it cannot start it says.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { decodeConfEntry } from '../../raft/confchange.ts';
import { EntryType, type ConfState } from '../../raft/types.ts';
import { decodeMemberContext } from '../../kv/members.ts';
import { RealFs } from '../../storage/fs.ts';
import { recoverDir } from '../../storage/recovery.ts';
import { readIdentity, type IdentityRecord } from '../../storage/identity.ts';
import { holdsMemberData } from '../../server/identity.ts';
import { MAX_MEMBERS, memberPlan, type NodePlan } from './up-plan.ts';

/** The configuration one data dir has committed. */
export interface CommittedView {
  /** The member whose data dir it is. */
  readonly from: string;
  readonly commit: number;
  /** Index of the configuration (0: the bootstrap one, from the identity record). */
  readonly configIndex: number;
  readonly conf: ConfState;
  /** Addresses recorded by the add entries it holds (peer, client). */
  readonly addresses: ReadonlyMap<string, { readonly peerAddr: string; readonly clientAddr: string }>;
}

/** The committed configuration in one member's data dir (null: no data, or it cannot be read). */
export function committedView(dir: string, rec: IdentityRecord): CommittedView {
  const r = recoverDir(new RealFs(), dir);
  const commit = r.hardState.commit;
  let conf: ConfState = r.snapshot?.confState ?? {
    voters: rec.how === 'bootstrap' ? rec.initialMembers.map((m) => m.id) : [],
    learners: [],
    removed: [],
  };
  let configIndex = r.snapshot?.index ?? 0;
  const addresses = new Map<string, { peerAddr: string; clientAddr: string }>();
  for (const e of r.log.all()) {
    if (e.type !== EntryType.ConfChange || e.index > commit) continue;
    try {
      const { change, confState } = decodeConfEntry(e.data);
      conf = confState;
      configIndex = e.index;
      const ctx = change.kind === 'add-learner' ? decodeMemberContext(change.context) : null;
      if (ctx !== null) addresses.set(change.id, { peerAddr: ctx.peerAddr, clientAddr: ctx.clientAddr });
    } catch {
      // a malformed change is no change
    }
  }
  return { from: rec.memberId, commit, configIndex, conf, addresses };
}

/** What a re-run starts, and what it says about the rest. */
export interface UpMembers {
  /** The bootstrap members (n1..nN) removed since: not started. */
  readonly removed: readonly string[];
  /** Members added since whose data dirs are here: started without a fault proxy. */
  readonly added: readonly { readonly plan: NodePlan; readonly join: boolean }[];
  /** Lines for the operator: where the view comes from, and what up cannot start. */
  readonly notes: readonly string[];
}

/**
 * The members to start from DATA_DIR: `nodes` (the bootstrap members of up's plan) minus the removed,
 * plus the members added since. Reads nothing but the data dirs; with none (a first start) or none
 * readable, the plan as it is.
 */
export function upMembers(nodes: readonly NodePlan[], dataDir: string, basePort: number): UpMembers {
  const notes: string[] = [];
  const records = new Map<string, IdentityRecord>();
  let best: CommittedView | null = null;
  for (let k = 1; k <= MAX_MEMBERS; k++) {
    const id = `n${k}`;
    const dir = resolve(dataDir, id);
    if (!holdsMemberData(dir)) continue;
    try {
      const rec = readIdentity(dir);
      if (rec === null) continue;
      records.set(id, rec);
      const v = committedView(dir, rec);
      if (best === null || v.commit > best.commit) best = v;
    } catch (e) {
      notes.push(`cannot read the membership in ${dir}: ${(e as Error).message}`);
    }
  }
  if (best === null) {
    if (notes.length > 0) notes.push(`starting ${nodes.map((n) => n.id).join(', ')} as first planned`);
    return { removed: [], added: [], notes };
  }
  const members = [...best.conf.voters, ...best.conf.learners];
  const removedIds = new Set(best.conf.removed ?? []);
  const where = `${resolve(dataDir, best.from)} (configuration at index ${best.configIndex}, commit index ${best.commit})`;
  notes.push(
    `members as ${where} records them: ${members.join(', ')}${removedIds.size === 0 ? '' : `; removed: ${[...removedIds].join(', ')}`}`,
  );
  const removed = nodes.filter((n) => removedIds.has(n.id)).map((n) => n.id);
  for (const id of new Set([...removed, ...[...records.keys()].filter((id) => removedIds.has(id))]))
    notes.push(`${id} was removed from the cluster: not started (its id can never rejoin)`);
  const added: { plan: NodePlan; join: boolean }[] = [];
  for (const id of members) {
    if (nodes.some((n) => n.id === id)) continue;
    const dir = resolve(dataDir, id);
    const own = records.get(id)?.initialMembers.find((m) => m.id === id);
    const addr = best.addresses.get(id) ?? own;
    const layout = /^n[1-9]$/.test(id) && Number(id.slice(1)) <= MAX_MEMBERS ? memberPlan(id, dataDir, basePort) : null;
    if (!existsSync(dir) || layout === null) {
      notes.push(
        `${id} is a member but its data is not in ${dir}: up cannot start it; start it where its data is, or remove it (\`leasekv member remove ${id}\`)`,
      );
      continue;
    }
    const plan =
      addr === undefined || addr.peerAddr === ''
        ? layout
        : {
            ...layout,
            peerAddr: addr.peerAddr,
            clientAddr: addr.clientAddr === '' ? layout.clientAddr : addr.clientAddr,
          };
    // Added but never started (no identity yet): it joins, as the dashboard's add would have started it.
    added.push({ plan, join: !records.has(id) });
  }
  for (const [id, rec] of records) {
    if (members.includes(id) || removedIds.has(id) || nodes.some((n) => n.id === id)) continue;
    notes.push(
      `${resolve(dataDir, id)} holds data of ${rec.memberId}, which is neither a member nor removed as ${where} records the cluster: not started`,
    );
  }
  return { removed, added, notes };
}
