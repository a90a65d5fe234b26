// A stop asked for (SIGTERM/SIGINT) while the node is still starting: start-up stops at its next step
// and releases what it holds (docs/design.md, "Stopping").

/** The named steps of start-up (and the first of stopping) at which a stop request is looked at. */
export type StartPoint = 'before-lock' | 'locked' | 'storage-opened' | 'transport-started' | 'serving' | 'stopping';

/** Thrown by startNode when its signal was aborted before the node served: everything it held is released. */
export class StartAbortedError extends Error {
  override readonly name = 'StartAbortedError';
  constructor(readonly point: StartPoint | 'join') {
    super(`start-up stopped at ${point}: a stop was asked for`);
  }
}
