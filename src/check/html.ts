// A self-contained HTML page (inline CSS, SVG and a few lines of JS; no network) showing a part
// that is not linearizable (or undecided): each client's operations on a timeline, the longest
// linearization found as numbered points joined by a line, and the moment it breaks.
import type { HistoryOp } from './history.ts';
import type { CheckResult, PartReport } from './checker.ts';
import { describeOp, describeTiming, formatResult } from './report.ts';
import { showValue } from './models.ts';

const ROW_HEIGHT_PX = 34;
const BAR_HEIGHT_PX = 20;
const LEFT_PX = 90;
const STEP_PX = 16;
const TOP_PX = 30;

function esc(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

function returnOf(op: HistoryOp): number {
  return op.outcome === 'unknown' || op.return === null ? Infinity : op.return;
}

/**
 * The x axis is by event rank, not by time: what matters for linearizability is only the order of
 * calls and returns, and ranks keep short operations visible next to long ones.
 */
function rankScale(ops: readonly HistoryOp[]): { x: (t: number) => number; width: number } {
  const times = [...new Set(ops.flatMap((o) => [o.call, returnOf(o)]))].sort((a, b) => a - b);
  const rank = new Map(times.map((t, i) => [t, i]));
  const x = (t: number): number => LEFT_PX + (rank.get(t) ?? 0) * STEP_PX + STEP_PX / 2;
  return { x, width: LEFT_PX + times.length * STEP_PX + 40 };
}

/** Earliest return among the operations the prefix did not place: where the linearization breaks. */
function breakTime(p: PartReport): number {
  const placed = new Set(p.longestPrefix);
  let due = Infinity;
  p.ops.forEach((op, i) => {
    if (!placed.has(i)) due = Math.min(due, returnOf(op));
  });
  return due;
}

/** Above this many operations only a window ending just after the break is drawn. */
export const MAX_DRAWN_OPS = 1_500;

/**
 * The operations to draw: all of them, or for a big part the MAX_DRAWN_OPS called last before
 * the break (plus a few after it), so that the page stays usable. Indices are into p.ops.
 */
function drawnOps(p: PartReport): number[] {
  const all = p.ops.map((_, i) => i);
  if (all.length <= MAX_DRAWN_OPS) return all;
  const due = breakTime(p);
  const byCall = all.sort((a, b) => (p.ops[a] as HistoryOp).call - (p.ops[b] as HistoryOp).call);
  let end = byCall.findIndex((i) => (p.ops[i] as HistoryOp).call > due);
  if (end < 0) end = byCall.length;
  end = Math.min(byCall.length, end + Math.floor(MAX_DRAWN_OPS / 10));
  return byCall.slice(Math.max(0, end - MAX_DRAWN_OPS), end);
}

function timelineSvg(p: PartReport): string {
  const ops = p.ops;
  const shown = drawnOps(p);
  const shownSet = new Set(shown);
  const shownOps = shown.map((i) => ops[i] as HistoryOp);
  const clients = [...new Set(shownOps.map((o) => o.client))].sort((a, b) => a - b);
  const row = new Map(clients.map((c, i) => [c, i]));
  const due = breakTime(p);
  const { x, width } = rankScale([
    ...shownOps,
    { client: -1, op: 'get', key: '', call: due, return: due, outcome: 'ok' },
  ]);
  const height = TOP_PX + clients.length * ROW_HEIGHT_PX + 20;
  const position = new Map(p.longestPrefix.map((i, k) => [i, k + 1]));
  const unplaced = new Map(p.unplaced.map((u) => [u.index, u.why]));
  const out: string[] = [`<svg width="${width}" height="${height}" role="img" aria-label="timeline">`];
  clients.forEach((c, i) => {
    const y = TOP_PX + i * ROW_HEIGHT_PX;
    out.push(`<text class="client" x="4" y="${y + BAR_HEIGHT_PX - 5}">client ${c}</text>`);
    out.push(
      `<line class="lane" x1="${LEFT_PX}" x2="${width}" y1="${y + BAR_HEIGHT_PX / 2}" y2="${y + BAR_HEIGHT_PX / 2}"/>`,
    );
  });
  shown.forEach((i) => {
    const op = ops[i] as HistoryOp;
    const y = TOP_PX + (row.get(op.client) ?? 0) * ROW_HEIGHT_PX;
    const x1 = x(op.call) - STEP_PX / 2 + 1;
    const x2 = returnOf(op) === Infinity ? width - 4 : x(returnOf(op)) + STEP_PX / 2 - 1;
    const cls = position.has(i) ? 'placed' : unplaced.has(i) ? 'unplaced' : 'rest';
    const tip =
      `${describeOp(op)} ${describeTiming(op)}` +
      (position.has(i) ? ` — #${position.get(i)} in the linearization` : '') +
      (unplaced.has(i) ? ` — not placed: ${unplaced.get(i)}` : '');
    const dash = op.outcome === 'unknown' ? ' unknown' : '';
    out.push(`<g class="op ${cls}${dash}" data-tip="${esc(tip)}"><title>${esc(tip)}</title>`);
    out.push(`<rect x="${x1}" y="${y}" width="${Math.max(4, x2 - x1)}" height="${BAR_HEIGHT_PX}" rx="3"/>`);
    out.push(
      `<text x="${x1 + 3}" y="${y + 14}">${esc(describeOp(op).slice(0, Math.max(0, Math.floor((x2 - x1) / 6.5))))}</text></g>`,
    );
  });
  // Linearization points: earliest point consistent with the order and with each op's call.
  let lastX = 0;
  const points: string[] = [];
  p.longestPrefix.forEach((i, k) => {
    if (!shownSet.has(i)) return;
    const op = ops[i] as HistoryOp;
    const px = Math.max(x(op.call), lastX + 2);
    lastX = px;
    // Just under the bar, so that the point and its number do not hide the bar's label.
    const py = TOP_PX + (row.get(op.client) ?? 0) * ROW_HEIGHT_PX + BAR_HEIGHT_PX + 4;
    points.push(`${px},${py}`);
    out.push(
      `<circle class="lp" cx="${px}" cy="${py}" r="3.5"><title>#${k + 1}: ${esc(describeOp(op))}</title></circle>`,
    );
    out.push(`<text class="lpn" x="${px + 5}" y="${py + 4}">${k + 1}</text>`);
  });
  if (points.length > 1) out.push(`<polyline class="lin" points="${points.join(' ')}"/>`);
  if (Number.isFinite(due)) {
    const bx = x(due) + STEP_PX / 2;
    out.push(`<line class="break" x1="${bx}" x2="${bx}" y1="12" y2="${height - 4}"/>`);
    out.push(`<text class="breaklabel" x="${bx + 4}" y="16">linearization breaks here</text>`);
  }
  out.push('</svg>');
  return out.join('\n');
}

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#222}
pre{background:#f6f6f6;padding:8px;overflow:auto;max-height:24em}
.scroll{overflow:auto;border:1px solid #ccc;margin:8px 0}
svg text{font:11px monospace;pointer-events:none}
svg .client{font-weight:bold}
.lane{stroke:#eee}
.op rect{stroke:#555;stroke-width:1}
.op.placed rect{fill:#bfe5bf}
.op.unplaced rect{fill:#f3b3b3;stroke:#b00;stroke-width:2}
.op.rest rect{fill:#e4e4e4}
.op.unknown rect{stroke-dasharray:4 3}
.op:hover rect{stroke:#000;stroke-width:2}
.op{pointer-events:all;cursor:pointer}
.lp{fill:#1a7f1a}
svg text.lpn{fill:#1a7f1a;font-size:9px;font-weight:bold}
.lin{fill:none;stroke:#1a7f1a;stroke-width:1.5;opacity:.7}
.break{stroke:#c00;stroke-width:2;stroke-dasharray:6 4}
.breaklabel{fill:#c00;font-weight:bold}
#detail{min-height:1.4em;font-family:monospace;background:#fffbe0;padding:4px}
.legend span{display:inline-block;padding:0 6px;margin-right:8px;border:1px solid #555}
`;

const JS = `
document.querySelectorAll('.op').forEach(function(g){
  g.addEventListener('click',function(){document.getElementById('detail').textContent=g.getAttribute('data-tip');});
});
`;

/** The page for a result; shows the violating part (or the undecided ones). */
export function renderHtml(r: CheckResult, title: string): string {
  const parts = r.violation !== undefined ? [r.violation] : r.undecided;
  const sections = parts.map((p) => {
    const prefix = p.longestPrefix.map(
      (i, k) =>
        `${k + 1}. client ${(p.ops[i] as HistoryOp).client}: ${describeOp(p.ops[i] as HistoryOp)} ${describeTiming(p.ops[i] as HistoryOp)}`,
    );
    const stuck = p.unplaced.map(
      (u) =>
        `client ${(p.ops[u.index] as HistoryOp).client}: ${describeOp(p.ops[u.index] as HistoryOp)} ${describeTiming(p.ops[u.index] as HistoryOp)} — ${u.why}`,
    );
    return [
      `<h2>key ${esc(JSON.stringify(p.key))}: ${p.verdict === 'not-linearizable' ? 'cannot be linearized' : 'undecided'}</h2>`,
      `<p class="legend"><span style="background:#bfe5bf">in the longest linearization (numbered points)</span><span style="background:#f3b3b3">could not be placed next</span><span style="background:#e4e4e4">not reached</span><span style="border-style:dashed">unknown outcome</span> — x axis: order of events, not time to scale. Click an operation for details.</p>`,
      p.ops.length > MAX_DRAWN_OPS
        ? `<p>${p.ops.length} operations: the timeline shows the ${MAX_DRAWN_OPS} called last before the break.</p>`
        : '',
      `<div class="scroll">${timelineSvg(p)}</div>`,
      `<h3>Longest linearizable prefix (${p.longestPrefix.length} of ${p.ops.length}), then the value is ${esc(showValue(p.stateAfterPrefix))}</h3>`,
      `<pre>${esc(prefix.join('\n'))}</pre>`,
      `<h3>Operations that could not be placed next</h3>`,
      `<pre>${esc(stuck.join('\n'))}</pre>`,
    ].join('\n');
  });
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${esc(title)}</title>`,
    `<style>${CSS}</style></head><body>`,
    `<h1>${esc(title)}</h1>`,
    `<pre>${esc(formatResult(r, 0).split('\n')[0] ?? '')}</pre>`,
    `<div id="detail">(click an operation)</div>`,
    ...sections,
    `<script>${JS}</script>`,
    '</body></html>',
  ].join('\n');
}
