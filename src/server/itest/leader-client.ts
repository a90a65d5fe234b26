// A small leader-following caller for the integration tests: sends to the node it believes leads,
// follows a not-leader hint, moves to the next node on a network error, and gives up at a deadline.
// Deliberately simpler than src/client (which server/ may not import): the tests want to see
// every attempt's raw answer.
import { call, type CallResult, type Endpoint, type KvMethod } from '../../testkit/http.ts';
import { assert } from '../../util/assert.ts';

export interface Attempt {
  readonly node: string;
  readonly result: CallResult;
}

export class LeaderClient {
  private current = 0;

  constructor(
    /** Node ids → endpoints, in the order to try them. */
    private readonly endpoints: ReadonlyMap<string, Endpoint>,
    private readonly perCallTimeoutMs = 2500,
  ) {
    assert(endpoints.size > 0, 'no endpoints');
  }

  private ids(): string[] {
    return [...this.endpoints.keys()];
  }

  get believedLeader(): string {
    return this.ids()[this.current] as string;
  }

  /** Points the client at a node (e.g. after a test learns the leader). */
  use(id: string): void {
    const i = this.ids().indexOf(id);
    assert(i >= 0, `unknown node ${id}`);
    this.current = i;
  }

  /** One attempt at the believed leader; updates the belief from the answer. */
  async once(method: KvMethod, body: object): Promise<Attempt> {
    const node = this.believedLeader;
    const result = await call(this.endpoints.get(node) as Endpoint, method, body, this.perCallTimeoutMs);
    const hinted =
      result.kind === 'error' &&
      result.code === 'failed_precondition' &&
      this.endpoints.has(result.leader) &&
      result.leader !== node;
    const settled =
      result.kind === 'ok' ||
      (result.kind === 'error' && (result.code === 'aborted' || result.code === 'invalid_argument'));
    if (hinted && result.kind === 'error') this.use(result.leader);
    else if (!settled) this.current = (this.current + 1) % this.endpoints.size; // down, no hint, or unavailable
    return { node, result };
  }

  /**
   * Retries until an ok answer, a definite application error (aborted, invalid_argument), or the
   * deadline. Returns every attempt; the last is the answer. Safe for writes only with a session
   * (the same body, hence the same client_id and seq, is resent).
   */
  async untilOk(method: KvMethod, body: object, deadlineMs: number, backoffMs = 50): Promise<Attempt[]> {
    const end = performance.now() + deadlineMs;
    const attempts: Attempt[] = [];
    for (;;) {
      const a = await this.once(method, body);
      attempts.push(a);
      const r = a.result;
      if (r.kind === 'ok' || (r.kind === 'error' && (r.code === 'aborted' || r.code === 'invalid_argument')))
        return attempts;
      if (performance.now() + backoffMs > end) return attempts;
      await new Promise((res) => setTimeout(res, backoffMs));
    }
  }
}

export function lastResult(attempts: readonly Attempt[]): CallResult {
  const a = attempts[attempts.length - 1];
  assert(a !== undefined, 'no attempts');
  return a.result;
}
