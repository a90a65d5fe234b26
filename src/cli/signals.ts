// The process's SIGTERM, SIGINT and SIGHUP listeners for `leasekv serve`, installed once, as early
// as possible (main.ts, before the command's modules load: a second or more on a loaded machine),
// and never removed: a handler is set later and gets every signal, those held until then first.
// Never swapped because a signal libuv has taken in but not yet dispatched is dropped if the
// listener it arrived for is removed in the meantime (serve-stop.ts).

export type StopSignal = 'SIGTERM' | 'SIGINT' | 'SIGHUP';

let handler: ((sig: StopSignal) => void) | null = null;
let installed = false;
const held: StopSignal[] = [];

/** Installs the listeners (once); signals are held until onSignals gives them a handler. */
export function holdSignals(): void {
  if (installed) return;
  installed = true;
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(sig, () => (handler === null ? held.push(sig) : handler(sig)));
  }
}

/** Sets the one handler (installing the listeners if need be) and hands it the signals held so far. */
export function onSignals(h: (sig: StopSignal) => void): void {
  holdSignals();
  handler = h;
  for (const sig of held.splice(0)) h(sig);
}
