// The host's client side: proposing commands (with their client sessions: exactly-once writes,
// docs/design.md "Writes and exactly-once"), read barriers (lease read or ReadIndex round) and
// waiting for the state machine to reach an index. Callback style, so that the simulator drives it
// on virtual time; the server (src/server/node.ts) wraps each in a promise with a deadline.

import type { ApplyResult } from '../kv/machine.ts';
import { encodeCommand } from '../kv/command.ts';
import type { Command } from '../kv/command.ts';
import type { ReadBarrierMode } from './types.ts';
import { HostSnapshots } from './snapshots.ts';

export type Proposed = (err: Error | null, out: { result: ApplyResult; index: number } | null) => void;

export abstract class HostNode extends HostSnapshots {
  /**
   * Proposes a command; `cb` is called once: with the state machine's result when the entry at its
   * index is applied, or with an error (not leader; another entry took the index; outcome unknown).
   * A command with a session is applied at most once however often it is retried (src/kv/sessions.ts).
   * `cmd` may be the command's encoding (encodeCommand's bytes, e.g. a Put the server's client API
   * thread encoded), proposed as it is: the node's entry then holds those bytes.
   */
  proposeCommand(cmd: Command | Uint8Array, cb: Proposed): void {
    if (this.stopped) return cb(this.unavailable('node is stopping'), null);
    const res = this.core.propose(cmd instanceof Uint8Array ? cmd : this.#encode(cmd), this.now());
    if (!res.ok) return cb(this.notLeader(res.leaderHint), null);
    this.proposals.add(res.index, {
      term: res.term,
      resolve: (result, index) => cb(null, { result, index }),
      reject: (err) => cb(err, null),
    });
    this.schedule();
  }

  #encode(cmd: Command): Uint8Array {
    // MUTANT session-dedupe-off: the session is dropped, so a retried write is applied again.
    const c = this.hc.mutant === 'session-dedupe-off' && cmd.session !== undefined ? withoutSession(cmd) : cmd;
    return encodeCommand(c);
  }

  /** The lease read index if this node may serve a lease read now (lease checked at the time of serving). */
  leaseReadIndex(): number | null {
    if (!this.hc.leaseReads) return null;
    const index = this.core.leaseRead(this.now());
    if (index !== null) this.onLeaseRead(index);
    return index;
  }

  /**
   * Waits until this node may answer a linearizable read: a lease read (leader with a valid lease at
   * the time of serving, current-term entry committed), else a ReadIndex round; then until the
   * state machine has applied the index the read must see.
   */
  readBarrier(cb: (err: Error | null, mode: ReadBarrierMode) => void): void {
    const leaseIndex = this.leaseReadIndex();
    if (leaseIndex !== null) return this.whenApplied(leaseIndex, (err) => cb(err, 'lease'));
    if (this.core.role !== 'leader') return cb(this.notLeader(null), 'readindex');
    const id = this.reads.add({
      resolve: (index) => this.whenApplied(index, (err) => cb(err, 'readindex')),
      reject: (err) => cb(err, 'readindex'),
    });
    this.core.readIndex(id, this.now(), this.hc.leaseReads);
    this.schedule();
  }

  /** Calls `cb` once the state machine has applied `index` (at once if it has), or with an error on stop. */
  whenApplied(index: number, cb: (err: Error | null) => void): void {
    if (this.kv.appliedIndex >= index) return cb(null);
    if (this.stopped) return cb(this.unavailable('node stopped'));
    this.applyWaiters.add({ index, resolve: () => cb(null), reject: (err) => cb(err) });
  }

  /** A lease read was served at `index` (the simulator's freshness oracle listens). */
  protected onLeaseRead(_index: number): void {}
}

function withoutSession(cmd: Command): Command {
  const { session: _dropped, ...rest } = cmd;
  return rest as Command;
}
