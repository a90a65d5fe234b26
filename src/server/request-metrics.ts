// The per-request counter and latency histogram of /metrics (leasekv_requests_total,
// leasekv_request_duration_seconds), counted on the consensus thread without prom-client's
// per-observation label hashing: prom-client hashes the label object of every inc() and observe()
// (sorted keys, string building, megamorphic keyed loads) — ~2.7 µs per write on the leader in
// session 12's perf profile (docs/benchmarks.md, "Write path, session 12"). Here a request finds its
// cell by two Map lookups of its method and mode strings. The two objects below stand in for
// prom-client metrics in the node's Registry (it asks a metric only for get()/getForPromString()
// and reset()) and export exactly what prom-client's Counter and Histogram would for the same
// requests: names, help, labels and their order, series order, buckets, sums
// (request-metrics.test.ts compares the text output of both).
import type { Metric, Registry } from 'prom-client';

const COUNTER_NAME = 'leasekv_requests_total';
const COUNTER_HELP = 'Client requests by method, read mode and outcome';
const HISTOGRAM_NAME = 'leasekv_request_duration_seconds';
const HISTOGRAM_HELP =
  'Client request latency by method and mode (write; lease, readindex or stale as served; linearizable or stale if failed)';

/** One (method, mode, outcome) series of the counter; `labels` keeps prom-client's key order. */
interface CounterSeries {
  value: number;
  readonly labels: { readonly method: string; readonly mode: string; readonly outcome: 'ok' | 'error' };
}

/** One (method, mode) pair: its two counter series (made on first use) and its histogram. */
interface Cell {
  ok: CounterSeries | null;
  error: CounterSeries | null;
  readonly labels: { readonly method: string; readonly mode: string };
  /** Per bucket (not cumulative), in the order of the upper bounds; +Inf is `count`. */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

interface ValuePair {
  readonly labels: Record<string, string | number>;
  readonly sharedLabels?: Record<string, string>;
  readonly value: number;
  readonly metricName?: string;
  readonly exemplar?: null | undefined;
}

interface MetricData {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly values: ValuePair[];
  readonly aggregator: 'sum';
}

export class RequestMetrics {
  private byMethod = new Map<string, Map<string, Cell>>();
  /** Histogram cells in the order of their first request (prom-client's series order). */
  private cells: Cell[] = [];
  /** Counter series in the order of their first request. */
  private counterSeries: CounterSeries[] = [];
  private readonly boundsS: readonly number[];

  constructor(bucketsS: readonly number[]) {
    this.boundsS = [...bucketsS].sort((a, b) => a - b);
  }

  /** Counts one client request and its latency. A non-finite latency (never measured) is not observed. */
  observe(method: string, mode: string, ms: number, ok: boolean): void {
    let byMode = this.byMethod.get(method);
    if (byMode === undefined) {
      byMode = new Map();
      this.byMethod.set(method, byMode);
    }
    let cell = byMode.get(mode);
    if (cell === undefined) {
      cell = {
        ok: null,
        error: null,
        labels: { method, mode },
        buckets: new Float64Array(this.boundsS.length),
        sum: 0,
        count: 0,
      };
      byMode.set(mode, cell);
    }
    let series = ok ? cell.ok : cell.error;
    if (series === null) {
      series = { value: 0, labels: { method, mode, outcome: ok ? 'ok' : 'error' } };
      if (ok) cell.ok = series;
      else cell.error = series;
      this.counterSeries.push(series);
    }
    series.value += 1;
    const s = ms / 1000;
    if (!Number.isFinite(s)) return;
    if (cell.count === 0) this.cells.push(cell);
    const bounds = this.boundsS;
    for (let i = 0; i < bounds.length; i++) {
      if (s <= (bounds[i] as number)) {
        (cell.buckets[i] as number)++;
        break;
      }
    }
    cell.sum += s;
    cell.count += 1;
  }

  reset(): void {
    this.byMethod = new Map();
    this.cells = [];
    this.counterSeries = [];
  }

  /** Adds the counter and the histogram to `registry`, as prom-client's own metrics would be. */
  register(registry: Registry): void {
    const counter = {
      name: COUNTER_NAME,
      help: COUNTER_HELP,
      type: 'counter',
      aggregator: 'sum',
      get: (): Promise<MetricData> => Promise.resolve(this.counterData()),
      reset: (): void => this.reset(),
    };
    const histogram = {
      name: HISTOGRAM_NAME,
      help: HISTOGRAM_HELP,
      type: 'histogram',
      aggregator: 'sum',
      // The text output reads the method and mode as shared labels (after `le`), like prom-client's.
      getForPromString: (): Promise<MetricData> => Promise.resolve(this.histogramData(false)),
      get: (): Promise<MetricData> => Promise.resolve(this.histogramData(true)),
      reset: (): void => this.reset(),
    };
    // The Registry's type names prom-client's classes; it uses only the members given here.
    registry.registerMetric(counter as unknown as Metric);
    registry.registerMetric(histogram as unknown as Metric);
  }

  private counterData(): MetricData {
    const values = this.counterSeries.map((s) => ({ value: s.value, labels: s.labels }));
    return { name: COUNTER_NAME, help: COUNTER_HELP, type: 'counter', values, aggregator: 'sum' };
  }

  /** prom-client's layout: per cell its cumulative buckets, +Inf, sum, count. */
  private histogramData(splay: boolean): MetricData {
    const values: ValuePair[] = [];
    const bucketName = `${HISTOGRAM_NAME}_bucket`;
    const pair = (
      le: Record<string, string | number>,
      value: number,
      metricName: string,
      cell: Cell,
      exemplar: boolean,
    ): ValuePair => {
      const shared = { method: cell.labels.method, mode: cell.labels.mode };
      // prom-client gives buckets a null exemplar and the sum and count an undefined one.
      const base = { value, metricName, exemplar: exemplar ? null : undefined };
      return splay ? { ...base, labels: { ...le, ...shared } } : { ...base, labels: le, sharedLabels: shared };
    };
    for (const cell of this.cells) {
      let acc = 0;
      this.boundsS.forEach((le, i) => {
        acc += cell.buckets[i] as number;
        values.push(pair({ le }, acc, bucketName, cell, true));
      });
      values.push(pair({ le: '+Inf' }, cell.count, bucketName, cell, true));
      values.push(pair({}, cell.sum, `${HISTOGRAM_NAME}_sum`, cell, false));
      values.push(pair({}, cell.count, `${HISTOGRAM_NAME}_count`, cell, false));
    }
    return { name: HISTOGRAM_NAME, help: HISTOGRAM_HELP, type: 'histogram', values, aggregator: 'sum' };
  }
}
