// A node can fail for good while it starts: its peers reach it as soon as the transport listens,
// and a vote or an append it persists then may hit a full disk — long before the client API
// listens and `serve` subscribes to 'fatal'. Such an error was emitted with no listener and lost:
// the node logged "stopping this node", its drive loop stopped, yet the API came up and the
// process served (status answered) and never exited (the chaos run's `disk` fault, a member
// restarted on a still-full disk, session 13). This keeps the first 'fatal' emitted before serving
// and emits it again once the caller listens, as start-removal.ts does for a removal.
import type { EventEmitter } from 'node:events';

export interface EarlyFatal {
  /** Serving from now on: a 'fatal' held until now is emitted again (in a later turn, once). */
  serving(): void;
}

export function holdEarlyFatal(events: EventEmitter): EarlyFatal {
  let held: { err: unknown } | null = null;
  let serving = false;
  const hold = (err: unknown): void => {
    if (!serving) held ??= { err };
  };
  events.on('fatal', hold);
  return {
    serving() {
      serving = true;
      events.off('fatal', hold);
      const h = held;
      if (h !== null) setImmediate(() => events.emit('fatal', h.err));
    },
  };
}
