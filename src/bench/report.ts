// Benchmark output: one table with every system and mode side by side, ratios, JSON, and an SVG
// chart of the latency distributions.
import type { Histogram } from 'hdr-histogram-js';

export interface Row {
  readonly system: string;
  readonly mode: string;
  readonly op: 'get' | 'put';
  readonly count: number;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly errors: number;
  /** CPU time of the system's processes and the load generator per operation, µs (load scenario). */
  readonly cpuUsPerOp?: number;
  /** (percentile, ms) pairs for the chart. */
  readonly curve: readonly (readonly [number, number])[];
}

const PCTS = [0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99];

export function rowFrom(
  system: string,
  mode: string,
  op: 'get' | 'put',
  h: Histogram,
  elapsedMs: number,
  errors: number,
): Row {
  const ms = (p: number): number => h.getValueAtPercentile(p) / 1000;
  return {
    system,
    mode,
    op,
    count: h.totalCount,
    opsPerSec: h.totalCount / (elapsedMs / 1000),
    p50Ms: ms(50),
    p90Ms: ms(90),
    p99Ms: ms(99),
    p999Ms: ms(99.9),
    errors,
    curve: PCTS.map((p) => [p, ms(p)] as const),
  };
}

const f = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : '-');

export function table(rows: readonly Row[]): string {
  const head = ['system', 'mode', 'op', 'ops/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'errors'];
  const body = rows.map((r) => [
    r.system,
    r.mode,
    r.op,
    f(r.opsPerSec, 0),
    f(r.p50Ms),
    f(r.p90Ms),
    f(r.p99Ms),
    f(r.p999Ms),
    String(r.errors),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => (i < 3 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  return [
    line(head),
    `|${widths.map((w, i) => (i < 3 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...body.map(line),
  ].join('\n');
}

export function chartSvg(rows: readonly Row[], title: string): string {
  const W = 820,
    H = 420,
    L = 70,
    R = 230,
    T = 40,
    B = 50;
  const xs = (p: number): number => L + (Math.log10(1 / (1 - Math.min(p, 99.99) / 100)) / 4) * (W - L - R);
  const maxMs = Math.max(1, ...rows.flatMap((r) => r.curve.map(([, v]) => v)));
  const ys = (v: number): number =>
    T + (1 - Math.log10(Math.max(v, 0.05) / 0.05) / Math.log10((maxMs / 0.05) * 1.2)) * (H - T - B);
  // Okabe–Ito: distinguishable with colour-vision deficiencies; dashes tell them apart in grey too.
  const colours = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#D55E00', '#56B4E9', '#000000', '#F0E442'];
  const dashes = ['', '6 3', '2 3', '8 3 2 3', '', '4 4', '1 2', '10 4'];
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(
    `<rect width="${W}" height="${H}" fill="white"/><text x="${L}" y="22" font-size="15" font-weight="bold">${title}</text>`,
  );
  for (const p of [0, 90, 99, 99.9, 99.99]) {
    parts.push(
      `<line x1="${xs(p)}" y1="${T}" x2="${xs(p)}" y2="${H - B}" stroke="#ddd"/><text x="${xs(p)}" y="${H - B + 16}" text-anchor="middle">p${p}</text>`,
    );
  }
  for (let v = 0.1; v <= maxMs * 1.2; v *= 10) {
    for (const m of [1, 2, 5]) {
      const val = v * m;
      if (val > maxMs * 1.2) break;
      parts.push(
        `<line x1="${L}" y1="${ys(val)}" x2="${W - R}" y2="${ys(val)}" stroke="#eee"/><text x="${L - 6}" y="${ys(val) + 4}" text-anchor="end">${val >= 1 ? val.toFixed(0) : val.toFixed(1)}</text>`,
      );
    }
  }
  parts.push(
    `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">percentile</text><text transform="translate(18 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">latency (ms, log)</text>`,
  );
  rows.forEach((r, i) => {
    const c = colours[i % colours.length] ?? '#000';
    const d = r.curve.map(([p, v], j) => `${j === 0 ? 'M' : 'L'}${xs(p).toFixed(1)},${ys(v).toFixed(1)}`).join(' ');
    parts.push(
      `<path d="${d}" fill="none" stroke="${c}" stroke-width="2" stroke-dasharray="${dashes[i % dashes.length] ?? ''}"/>`,
    );
    parts.push(
      `<line x1="${W - R + 12}" y1="${T + 10 + i * 20}" x2="${W - R + 40}" y2="${T + 10 + i * 20}" stroke="${c}" stroke-width="2" stroke-dasharray="${dashes[i % dashes.length] ?? ''}"/><text x="${W - R + 46}" y="${T + 14 + i * 20}">${r.system} ${r.mode} ${r.op}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}
