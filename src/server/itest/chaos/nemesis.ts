// The chaos run's nemesis (docs/chaos.md): one fault at a time against a real process cluster,
// each started, held for a seeded while and undone, with a seeded quiet pause in between. Every
// wait is bounded; every step is logged as an event on the history's clock (µs of
// performance.now()), so that the judge can line faults up with the clients' operations.
//
//   kill      kill -9 the leader (most often) or another member; restart it after 1-4 s
//   restart   SIGTERM (graceful: hands leadership over) and start again
//   pause     SIGSTOP the leader (most often) for 0.3-3 s — most longer than its lease — then SIGCONT:
//             a paused leader whose lease ran out must not answer a read once it resumes
//   partition isolate the leader, or a random member, or cut a random minority off (proxies)
//   delay     20-150 ms one-way on every link, or on one member's links only, for 2-6 s
//   member    add the next spare (as a voter, or as a learner then promoted), or remove the spare
//             added before (possibly the leader, which hands over first)
//   transfer  TransferLeadership to another member
//   combo     two different faults of the above at once, the second 0-1.5 s after the first
//             (each logged as its own fault inside the combo's)
//   disk, corrupt, clock, upgrade: nemesis-more.ts (a full disk, a damaged data dir, a wall clock
//             that jumps, a rolling restart into other flags)
//
// Partitions and delays act on the proxies of the initial members only: a spare added by `member`
// talks to the others directly (src/testkit/cluster.ts makes proxies for the initial members).
import { NEMESES, type Nemesis } from './args.ts';
import { MORE_FAULTS } from './nemesis-more.ts';
import { CHANGE_TIMEOUT_MS, MAX_FAULTS, NemesisState, type Fault, type NemesisOptions } from './state.ts';
import { sleep } from '../../../testkit/wait.ts';

export type { FaultEvent, NemesisOptions } from './state.ts';
export { NemesisState } from './state.ts';

const FAULTS: Readonly<Record<Nemesis, Fault>> = {
  ...MORE_FAULTS,
  async kill(s, start) {
    const id = await s.victim(0.6);
    const holdMs = s.between(1000, 4000);
    start(id, `kill -9, restart after ${holdMs} ms`);
    await s.cluster.kill(id);
    await sleep(holdMs);
    await s.restartAndWait(id);
  },
  async restart(s, start) {
    const id = await s.victim(0.5);
    start(id, 'SIGTERM, then start again');
    await s.cluster.terminate(id);
    await sleep(s.between(200, 1500));
    await s.restartAndWait(id);
  },
  async pause(s, start) {
    const id = await s.victim(0.8);
    // Some shorter than the lease (450 ms), some between it and the election timeout (500 ms: the
    // leader resumes still leading, its lease run out), most long enough for a new leader.
    const holdMs = s.between(300, 3000);
    start(id, `SIGSTOP for ${holdMs} ms`);
    s.cluster.pause(id);
    try {
      await sleep(holdMs);
    } finally {
      s.cluster.resume(id);
    }
    await s.probe(id);
  },
  async partition(s, start) {
    const c = s.cluster;
    const dice = Math.floor(s.between(0, 299) / 100);
    const ids = c.ids.filter((id) => !s.removed.has(id)); // a replaced member is gone for good
    // Only the initial members have proxies: a spare that leads is not cut off (a random one is).
    const leader = dice === 0 ? await s.leader() : undefined;
    let side: string[];
    if (dice === 2) {
      // A random minority (at least one, fewer than half) against the rest.
      const size = Math.max(1, s.between(1, Math.floor((ids.length - 1) / 2)));
      side = s.shuffle(ids).slice(0, size);
    } else side = [leader !== undefined && ids.includes(leader) ? leader : s.pick(ids)];
    const holdMs = s.between(1000, 5000);
    start(side.join(','), `cut off from ${ids.filter((id) => !side.includes(id)).join(',')} for ${holdMs} ms`);
    for (const a of side)
      for (const b of ids)
        if (!side.includes(b)) {
          c.link(a, b).setBlocked(true);
          c.link(b, a).setBlocked(true);
        }
    try {
      await sleep(holdMs);
    } finally {
      c.heal();
    }
    await Promise.all(side.map((id) => s.probe(id)));
  },
  async delay(s, start) {
    const c = s.cluster;
    const ms = s.between(20, 150);
    const holdMs = s.between(2000, 6000);
    const one = s.between(0, 1) === 1 ? s.pick(c.ids) : null;
    start(one ?? 'all', `${ms} ms one-way on ${one === null ? 'every link' : `every link of ${one}`} for ${holdMs} ms`);
    for (const a of c.ids)
      for (const b of c.ids) if (a !== b && (one === null || a === one || b === one)) c.link(a, b).setDelayMs(ms);
    try {
      await sleep(holdMs);
    } finally {
      c.setDelayMs(0);
    }
  },
  async member(s, start) {
    const c = s.cluster;
    const active = s.activeSpare;
    if (active !== null) {
      start(active, 'MemberRemove, then stop it');
      await c.change('MemberRemove', { id: active }, CHANGE_TIMEOUT_MS);
      s.activeSpare = null;
      await c.terminate(active).catch(() => c.kill(active));
      return;
    }
    const id = s.takeSpare();
    if (id === null) {
      start('', 'no spare left: skipped');
      return;
    }
    const learner = s.between(0, 1) === 1;
    start(
      id,
      learner ? 'MemberAdd as a learner, then MemberPromote' : 'MemberAdd (promoted by the leader once caught up)',
    );
    await c.change(
      'MemberAdd',
      { id, peerAddr: c.peerAddr(id), clientAddr: c.clientAddr(id), learner },
      CHANGE_TIMEOUT_MS,
    );
    s.activeSpare = id;
    await s.restartAndWait(id);
    if (learner) await c.change('MemberPromote', { id }, CHANGE_TIMEOUT_MS);
  },
  async transfer(s, start) {
    const leader = await s.leader();
    const others = s.members().filter((id) => id !== leader && s.cluster.alive(id));
    if (leader === undefined || others.length === 0) {
      start('', 'no leader or no other member: skipped');
      return;
    }
    const target = s.pick(others);
    start(target, `from ${leader}`);
    await s.cluster.change('TransferLeadership', { target }, CHANGE_TIMEOUT_MS);
  },
  async combo(s, start) {
    const [a, b] = s.shuffle(COMBINABLE) as [Nemesis, Nemesis];
    const lagMs = s.between(0, 1500);
    start('', `${a} and ${b} ${lagMs} ms later`);
    await Promise.all([s.fault(a), sleep(lagMs).then(() => s.fault(b))]);
  },
};

/** What `combo` combines: every other fault (two different ones, so never two kills of one node). */
// Not disk, corrupt and upgrade: each stops a member for as long as its restart takes (upgrade all
// of them in turn), and a corrupt one may take a spare; with a second fault that is a majority down
// for most of a short run. (Derived from NEMESES, in its order, so that a seed draws as before.)
const NOT_COMBINED: ReadonlySet<Nemesis> = new Set(['combo', 'disk', 'corrupt', 'upgrade']);
const COMBINABLE: readonly Nemesis[] = NEMESES.filter((n) => !NOT_COMBINED.has(n));

/** Faults one after another, with quiet pauses of 1-3 s, until endAtMs (or stopped). */
export async function runNemesis(o: NemesisOptions): Promise<NemesisState> {
  const s = new NemesisState(o, FAULTS);
  for (let i = 0; i < MAX_FAULTS && !o.stopped(); i++) {
    await sleep(s.between(1000, 3000));
    if ((o.script === undefined && performance.now() >= o.endAtMs) || o.stopped()) break;
    const kind = o.script === undefined ? s.pick(o.mix) : o.script[i];
    if (kind === undefined) break;
    await s.fault(kind);
  }
  return s;
}
