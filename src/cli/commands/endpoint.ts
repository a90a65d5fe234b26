// `leasekv endpoint health`: asks every endpoint's GET /health (docs/api.md, "Health"), like
// `etcdctl endpoint health`. Exit 1 when any endpoint is unhealthy or does not answer.
import type { ClientTlsOptions } from '../../client/transport.ts';
import { httpGet, readText } from './http-get.ts';
import { command, emit, field, parse, renderTable, UsageError, want, type Format } from './common.ts';

const FORMATS: readonly Format[] = ['table', 'simple', 'json'];

const USAGE = `usage: leasekv endpoint health [options]

Asks every endpoint for GET /health and prints one row per endpoint: endpoint, health, how long the
answer took, and why it is unhealthy. A node is healthy when it knows a leader, holds a valid
lease (leader) or knows the leader's lease is running (follower), and has applied what it knows
is committed (docs/api.md, "Health").
Exit code 1 when any endpoint is unhealthy or does not answer.
output (-w): table (default), simple (one line per endpoint), json (every endpoint's full report)`;

export interface EndpointHealth {
  readonly endpoint: string;
  readonly health: boolean;
  readonly tookMs: number;
  readonly error: string;
  /** The node's report (absent when it did not answer). */
  readonly report?: Record<string, unknown>;
}

export async function probeHealth(
  endpoint: string,
  timeoutMs: number,
  tls: ClientTlsOptions | null = null,
): Promise<EndpointHealth> {
  const t0 = performance.now();
  const took = (): number => Math.round((performance.now() - t0) * 10) / 10;
  try {
    const res = await httpGet(endpoint, '/health', timeoutMs, {}, tls);
    const text = await readText(res);
    let report: Record<string, unknown> | undefined;
    try {
      report = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return { endpoint, health: false, tookMs: took(), error: `HTTP ${res.statusCode ?? 0}: not a health report` };
    }
    const healthy = res.statusCode === 200 && report['health'] === true;
    const error = healthy
      ? ''
      : typeof report['reason'] === 'string' && report['reason'] !== ''
        ? report['reason']
        : `HTTP ${res.statusCode ?? 0}`;
    return { endpoint, health: healthy, tookMs: took(), error, report };
  } catch (e) {
    return { endpoint, health: false, tookMs: took(), error: (e as Error).message };
  }
}

export function run(argv: string[]): Promise<number> {
  return command(
    'endpoint',
    USAGE,
    argv,
    async () => {
      const { common, positionals } = parse(argv, {}, { formats: FORMATS, defaultFormat: 'table' });
      if (positionals[0] !== 'health')
        throw new UsageError(
          positionals.length === 0
            ? 'expected a subcommand: health'
            : `unknown subcommand '${positionals[0]}' (known: health)`,
        );
      want(positionals, 1, 'no arguments after health');
      const all = await Promise.all(common.endpoints.map((ep) => probeHealth(ep, common.deadlineMs, common.tls)));
      emit(common.format, {
        table: () =>
          renderTable(
            ['ENDPOINT', 'HEALTH', 'TOOK', 'ERROR'],
            // '-' for no error, as the other tables show an empty cell (field() would print "").
            all.map((h) => [h.endpoint, String(h.health), `${h.tookMs}ms`, h.error === '' ? '-' : h.error]),
          ),
        simple: () =>
          all
            .map(
              (h) =>
                `${h.endpoint} is ${h.health ? 'healthy' : 'unhealthy'}: took = ${h.tookMs}ms${h.health ? '' : `, error: ${field(h.error)}`}\n`,
            )
            .join(''),
        json: () => all,
      });
      return all.every((h) => h.health) ? 0 : 1;
    },
    { formats: FORMATS, defaultFormat: 'table' },
  );
}
