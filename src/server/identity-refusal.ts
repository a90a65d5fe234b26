// A peer refused this member for its identity (docs/storage.md, "Cluster identity": "A refused
// stranger stops").
import { LogLimiter } from '../util/log-limit.ts';
import { StartRefusedError } from './identity.ts';

/**
 * What a member does when a peer refuses it for its identity (wrong cluster, not a member, another
 * incarnation). A member that has seen entries committed belongs to a working cluster: the refusing
 * peer is the stranger, and this is logged, once per reason a minute — the peer redials several
 * times a second (the transport's own warning is limited alike; a restored cluster's old
 * neighbour logged this line twice a second for as long as both ran). One that never has is the
 * stranger itself (wiped disk, other cluster): it stops (`fatal`), once.
 */
export function refusalHandler(
  log: { error(fields: object, msg: string): void },
  commit: () => number,
  fatal: (e: StartRefusedError) => void,
  limiter = new LogLimiter(60_000),
): (reason: string) => void {
  let stopped = false;
  return (reason) => {
    if (stopped) return;
    if (commit() > 0) {
      const held = limiter.take(reason);
      if (held !== null)
        log.error({ reason, ...(held > 0 ? { held } : {}) }, 'a peer refused this member for its identity');
      return;
    }
    stopped = true;
    log.error({ reason }, 'a peer refused this member, which has never seen an entry committed: stopping');
    fatal(new StartRefusedError(reason));
  };
}
