// How `leasekv serve` stops: SIGTERM/SIGINT at any moment, from before start-up to the end of the
// stop, with a hard bound (docs/design.md, "Stopping").
//
// The listeners are installed once, before any start-up work (../signals.ts), and never swapped: a
// signal that libuv has already taken in is delivered to the handle that was listening when it
// arrived, and is dropped if that listener was removed before the event loop dispatched it (4e23f6c
// removed its start-up listener and added the running one in the same turn: a fresh-clone CI run's
// node then served on for 14 minutes after its SIGTERM, until a second one stopped it cleanly).
// Before any listener, the default action would end the process (1b85b03: exit by signal): so
// bin/leasekv.mjs installs them as its first statement, and signals.ts takes them over.
import type { Logger } from 'pino';
import type { RunningNode } from '../../server/start.ts';
import type { StartPoint } from '../../server/start-abort.ts';
import { StartRefusedError } from '../../server/identity.ts';
import { EXIT_MEMBER_REMOVED, MemberRemovedError } from '../../server/removal.ts';
import { onSignals } from '../signals.ts';

/** Exit code of a second SIGTERM/SIGINT during a stop: at once, without finishing it. */
export const EXIT_SECOND_SIGNAL = 130;
/** Exit code of a stop that took longer than --stop-timeout-ms (or a process kept alive after it). */
export const EXIT_STOP_TIMEOUT = 1;

/** How long a process that stopped may take to exit by itself (serve-stop's last bound). */
const EXIT_GRACE_MS = 5000;

/** How long the test-only pause (LEASEKV_TEST_PAUSE_AT) holds at most. */
const PAUSE_MAX_MS = 30_000;

export class ServeStop {
  readonly #abort = new AbortController();
  readonly #log: Logger;
  readonly #stopTimeoutMs: number;
  #running: RunningNode | null = null;
  #signals = 0;
  #reloadAsked = false;
  #deadline: NodeJS.Timeout | null = null;
  #stopping: Promise<number> | null = null;

  /** Takes the SIGTERM, SIGINT and SIGHUP listeners (../signals.ts); call before any start-up work. */
  constructor(log: Logger, stopTimeoutMs: number) {
    this.#log = log;
    this.#stopTimeoutMs = stopTimeoutMs;
    onSignals((sig) => (sig === 'SIGHUP' ? this.#hangUp() : this.#signal(sig)));
    // Started by a supervisor with an IPC channel (`leasekv up`): the channel closes when the
    // supervisor ends, even by SIGKILL, and the node stops as for SIGTERM rather than run on as an
    // orphan holding its ports and data dir, cut off from its peers (they dialled each other through
    // the supervisor's fault proxies). Unref'd: the channel itself never keeps the process alive.
    // Nothing is sent on it. A serve started without one (by hand, systemd) is not affected.
    if (process.channel !== undefined) {
      process.channel.unref();
      process.once('disconnect', () => this.#signal('supervisor gone', 'its supervisor ended (IPC channel closed)'));
    }
  }

  /** Aborted at the first SIGTERM/SIGINT: startNode stops at its next step (StartOptions.signal). */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /**
   * Test-only (start.test.ts; no flag, not for operators): with LEASEKV_TEST_PAUSE_AT=POINT in the
   * environment, start-up pauses at that step (StartPoint) and says so on stderr, so that a test can
   * send a signal exactly there. A start-up step waits for the stop request (30 s at most); the
   * 'stopping' step, reached once it came, waits 30 s.
   */
  checkpoint(pauseAt: string | undefined): ((point: StartPoint) => Promise<void>) | undefined {
    if (pauseAt === undefined || pauseAt === '') return undefined;
    return (point) => {
      if (point !== pauseAt) return Promise.resolve();
      process.stderr.write(`leasekv serve: test pause at ${point}\n`);
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, PAUSE_MAX_MS);
        const signal = point === 'stopping' ? null : this.signal;
        function done(): void {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          resolve();
        }
        signal?.addEventListener('abort', done, { once: true });
      });
    };
  }

  /**
   * The node has started: a stop asked for meanwhile begins now. Resolves with the exit code once
   * it stopped (0 after a signal; 1, or 2 when refused, after a fatal error; EXIT_MEMBER_REMOVED
   * once this member learnt that it was removed from the cluster).
   */
  serve(running: RunningNode): Promise<number> {
    this.#running = running;
    if (this.#reloadAsked) this.#hangUp();
    return new Promise<number>((resolve) => {
      running.node.events.on('fatal', (err: unknown) => {
        if (err instanceof MemberRemovedError) {
          // Logged by the node (removal.ts); the distinct code tells a supervisor not to restart it.
          console.error(`leasekv serve: ${err.message}`);
          resolve(this.#stop(EXIT_MEMBER_REMOVED, 'stopping after this member was removed did not finish cleanly'));
          return;
        }
        const refused = err instanceof StartRefusedError;
        if (refused) console.error(`leasekv serve: refusing to run: ${err.message}`);
        resolve(this.#stop(refused ? 2 : 1, 'stopping after a fatal error did not finish cleanly'));
      });
      const onStop = (): void => resolve(this.#stop(0, 'error while stopping'));
      if (this.#abort.signal.aborted) onStop();
      else this.#abort.signal.addEventListener('abort', onStop, { once: true });
    });
  }

  /** Start-up ended without a node (stopped at a step, or failed): nothing is left to stop. */
  startEnded(code: number): void {
    this.#disarm(code);
  }

  /** A stop request: `sig` names it in the logs, `what` says what happened (default "SIG received"). */
  #signal(sig: string, what = `${sig} received`): void {
    this.#signals++;
    if (this.#signals > 1) {
      this.#log.warn(`second ${sig}: exiting now, without finishing the stop`);
      process.exit(EXIT_SECOND_SIGNAL);
    }
    this.#armDeadline();
    if (this.#stopping !== null) {
      this.#log.info(`${what}: already stopping (a second one exits at once)`);
      return;
    }
    this.#log.info(
      this.#running === null
        ? `${what} while starting: start-up stops at its next step, then the node stops`
        : `${what}: stopping gracefully`,
    );
    this.#abort.abort();
  }

  #hangUp(): void {
    if (this.#running === null) {
      // The files are read as the node starts; the reload is done once it serves.
      this.#reloadAsked = true;
      return;
    }
    this.#reloadAsked = false;
    this.#log.info('SIGHUP received: reloading the TLS files');
    this.#running.reloadTls();
  }

  /** Stops the node once (later calls share the first): resolves with `code`, or 1 if stopping failed. */
  #stop(code: number, failure: string): Promise<number> {
    const running = this.#running;
    if (running === null) throw new Error('ServeStop: no node to stop');
    this.#armDeadline();
    this.#stopping ??= running.stop().then(
      () => code,
      (err: unknown) => {
        this.#log.error({ cause: err instanceof Error ? err.message : String(err) }, failure);
        return code === 0 ? 1 : code;
      },
    );
    return this.#stopping.then((c) => {
      this.#disarm(c);
      return c;
    });
  }

  /** The hard bound: a stop that has not finished after --stop-timeout-ms exits at once. */
  #armDeadline(): void {
    if (this.#deadline !== null) return;
    this.#deadline = setTimeout(() => {
      this.#log.error(
        `the stop did not finish within ${this.#stopTimeoutMs} ms (--stop-timeout-ms): exiting now, code ${EXIT_STOP_TIMEOUT}`,
      );
      process.exit(EXIT_STOP_TIMEOUT);
    }, this.#stopTimeoutMs);
  }

  /**
   * After the stop (or a start-up that ended) the process exits once nothing holds it. Should a
   * handle left open hold it still, it is ended after EXIT_GRACE_MS anyway (an unref'd timer: it
   * does not itself hold the process).
   */
  #disarm(code: number): void {
    if (this.#deadline !== null) clearTimeout(this.#deadline);
    this.#deadline = setTimeout(() => {
      this.#log.warn(`stopped, but the process was still held open ${EXIT_GRACE_MS} ms later: exiting now`);
      process.exit(code);
    }, EXIT_GRACE_MS);
    this.#deadline.unref();
  }
}
