// The process's SIGTERM, SIGINT and SIGHUP listeners for `leasekv serve`, installed once, as early
// as possible, and never removed: a handler is set later and gets every signal, those held until
// then first. bin/leasekv.mjs installs them as its first statement, before any module loads (a
// second or more on a loaded machine), and leaves them here to take over (EARLY); run otherwise
// (main.ts straight, a test), holdSignals installs them. Never swapped because a signal libuv has
// taken in but not yet dispatched is dropped if the listener it arrived for is removed in the
// meantime (serve-stop.ts).

export type StopSignal = 'SIGTERM' | 'SIGINT' | 'SIGHUP';

/**
 * What bin/leasekv.mjs leaves under this key: the signals its listeners held so far, and where
 * they send the next ones once `to` is set.
 */
const EARLY = Symbol.for('leasekv.signals');
interface Early {
  held: StopSignal[];
  to: ((sig: StopSignal) => void) | null;
}

let handler: ((sig: StopSignal) => void) | null = null;
let installed = false;
const held: StopSignal[] = [];

function dispatch(sig: StopSignal): void {
  if (handler === null) held.push(sig);
  else handler(sig);
}

/** Installs the listeners, or takes over bin/leasekv.mjs's (once); signals are held until onSignals gives them a handler. */
export function holdSignals(): void {
  if (installed) return;
  installed = true;
  const early = (globalThis as { [EARLY]?: Early })[EARLY];
  if (early !== undefined) {
    held.push(...early.held.splice(0));
    early.to = dispatch;
    return;
  }
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => dispatch(sig));
}

/** Sets the one handler (installing the listeners if need be) and hands it the signals held so far. */
export function onSignals(h: (sig: StopSignal) => void): void {
  holdSignals();
  handler = h;
  for (const sig of held.splice(0)) h(sig);
}
