// What a 200 answer to each of the benchmark's requests must look like, by request path, so that the
// load generator counts as errors answers that are not what the system says on success (the
// lean client reads every body; node:http's path in load.ts reads only the status, as before).
// By path rather than by the request builder, so that ab-slices.ts, which drives another checkout's
// systems.ts, checks its answers the same way.

type Check = (answer: Record<string, unknown>) => boolean;

const decimal = (v: unknown): boolean => typeof v === 'string' && /^\d{1,20}$/.test(v);
const header = (a: Record<string, unknown>): Record<string, unknown> | null =>
  typeof a['header'] === 'object' && a['header'] !== null ? (a['header'] as Record<string, unknown>) : null;

const CHECKS: ReadonlyMap<string, { readonly what: string; readonly ok: Check }> = new Map([
  // leasekv's PutResponse: the log index the write was committed at (the floor server answers the same).
  ['/leasekv.v1.KV/Put', { what: "leasekv's Put answer (an index)", ok: (a) => decimal(a['index']) }],
  [
    '/leasekv.v1.KV/Get',
    {
      what: "leasekv's Get answer (found, an index)",
      ok: (a) => typeof a['found'] === 'boolean' && decimal(a['index']),
    },
  ],
  // etcd's gateway: every answer carries a header with the store's revision (a decimal string).
  ['/v3/kv/put', { what: "etcd's put answer (a header revision)", ok: (a) => decimal(header(a)?.['revision']) }],
  [
    '/v3/kv/range',
    {
      what: "etcd's range answer (a header revision)",
      ok: (a) => decimal(header(a)?.['revision']) && (a['kvs'] === undefined || Array.isArray(a['kvs'])),
    },
  ],
]);

/** Null if `body` is a success answer to a request to `path`, else why not. Other paths: any JSON object. */
export function checkAnswer(path: string, body: string): string | null {
  let a: unknown;
  try {
    a = JSON.parse(body);
  } catch {
    return `answer is not JSON: ${body.slice(0, 80)}`;
  }
  if (typeof a !== 'object' || a === null || Array.isArray(a))
    return `answer is not a JSON object: ${body.slice(0, 80)}`;
  const c = CHECKS.get(path);
  if (c === undefined || c.ok(a as Record<string, unknown>)) return null;
  return `answer is not ${c.what}: ${body.slice(0, 80)}`;
}
