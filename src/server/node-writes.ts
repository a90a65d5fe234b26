// The write side's admission (a stopping or removed member, the pending-request bound) and the lean
// Put of the client API thread: a command it encoded, proposed as its bytes (api-thread/put-pack.ts).
// Between NodeMembership and LeaseKvNode (node.ts), which builds its client API on these.
import { DeadlineExceededError, OverloadedError, UnavailableError, type PutResult } from './backend.ts';
import { NodeMembership } from './node-membership.ts';
import { writeTimedOut } from './node-drive.ts';
import { checkResult } from './apply-errors.ts';
import { assert } from '../util/assert.ts';

export abstract class NodeWrites extends NodeMembership {
  /** Set once this member knows it was removed from the cluster (start-removal.ts): every request is refused. */
  #removed: string | null = null;

  /** This member was removed from the cluster: requests get UnavailableError(`why`) until it stops. */
  markRemoved(why: string): void {
    this.#removed ??= why;
  }

  protected admit(): void {
    if (this.stopped) throw new UnavailableError('node is stopping');
    if (this.#removed !== null) throw new UnavailableError(this.#removed);
    if (this.inFlight >= this.cfg.maxPendingRequests) {
      throw new OverloadedError(`too many pending requests (${this.cfg.maxPendingRequests}); retry later`);
    }
  }

  /**
   * putQuick of a Put the client API thread encoded (KvBackend.putCommand; api-thread/put-pack.ts):
   * the same admission, deadline, errors and 'request' event as putWith, by callbacks — no promise,
   * command object or encoding per write on this thread (issue 16).
   */
  putCommand(cmd: Uint8Array, timeoutMs: number, done: (err: unknown, r: PutResult | null) => void): void {
    try {
      this.admit();
    } catch (e) {
      return done(e, null);
    }
    this.inFlight++;
    const t0 = this.now();
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (err: unknown, r: PutResult | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.inFlight--;
      this.events.emit('request', 'Put', 'write', this.now() - t0, r !== null);
      done(err, r);
    };
    this.proposeCommand(cmd, (err, out) => {
      if (out === null) return finish(err, null);
      let r: PutResult;
      try {
        checkResult(out.result);
        assert(out.result.op === 'put', () => `put applied as ${out.result.op}`);
        r = { index: out.index, revision: out.result.revision };
      } catch (e) {
        return finish(e, null);
      }
      finish(null, r);
    });
    if (settled) return;
    // As propose(): the caller's deadline when it is the shorter, else the node's request timeout.
    const own = this.cfg.requestTimeoutMs;
    timer =
      timeoutMs <= own
        ? setTimeout(() => finish(new DeadlineExceededError(timeoutMs), null), timeoutMs)
        : setTimeout(() => finish(writeTimedOut(), null), own);
  }
}
