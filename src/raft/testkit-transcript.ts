// Raft transcripts (testdata/raft/*.txt, the language in testdata/raft/README.md): a small command
// language over TestCluster, in the manner of etcd-io/raft's datadriven tests. A file is a list of
// commands, each followed by `----` and the output it must produce; parseTranscript reads one,
// runTranscript runs every command on one cluster and gives the actual outputs, and
// formatTranscript writes the file back with them (the rewrite mode). Pure like the core: strings
// in, strings out; the test (transcript.test.ts) reads and writes the files.
import { decodeConfChange } from './confchange.ts';
import type { RaftConfigInput } from './config.ts';
import { TestCluster, isolate, partition } from './testkit.ts';
import { EntryType, type Entry, type Message, type NodeId } from './types.ts';

export interface TranscriptCase {
  /** Comment and blank lines before the command, kept as they are by a rewrite. */
  readonly preamble: readonly string[];
  /** 1-based line of the command in the file. */
  readonly line: number;
  readonly command: string;
  readonly expected: readonly string[];
}

export class TranscriptError extends Error {
  override readonly name = 'TranscriptError';
}

const SEPARATOR = '----';

export function parseTranscript(text: string): { cases: TranscriptCase[]; trailer: string[] } {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const cases: TranscriptCase[] = [];
  let preamble: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] ?? '';
    if (l.trim() === '' || l.startsWith('#')) {
      preamble.push(l);
      continue;
    }
    if (lines[i + 1] !== SEPARATOR) throw new TranscriptError(`line ${i + 2}: '${SEPARATOR}' expected after '${l}'`);
    const expected: string[] = [];
    let j = i + 2;
    for (; j < lines.length && (lines[j] ?? '') !== ''; j++) expected.push(lines[j] ?? '');
    cases.push({ preamble, line: i + 1, command: l, expected });
    preamble = [];
    i = j - 1;
  }
  return { cases, trailer: preamble };
}

export function formatTranscript(cases: readonly TranscriptCase[], trailer: readonly string[]): string {
  const out: string[] = [];
  for (const c of cases) out.push(...c.preamble, c.command, SEPARATOR, ...c.expected);
  out.push(...trailer);
  return `${out.join('\n')}\n`;
}

/** Runs every case in order on one cluster; returns the actual output of each. */
export function runTranscript(cases: readonly TranscriptCase[]): string[][] {
  const env = new Env();
  return cases.map((c) => {
    try {
      return env.run(c.command);
    } catch (e) {
      if (e instanceof TranscriptError) return [`error: ${e.message}`];
      throw e;
    }
  });
}

/** Events left out of outputs unless `trace all`: they happen on every heartbeat. */
const NOISY = / (lease-renewed|commit|old-lease-seen)( |$)/;

interface Parsed {
  readonly raw: string;
  readonly name: string;
  readonly words: string[];
  readonly opts: Map<string, string>;
}

function parse(command: string): Parsed {
  const [name = '', ...rest] = command.trim().split(/\s+/);
  const words: string[] = [];
  const opts = new Map<string, string>();
  for (const r of rest) {
    const eq = r.indexOf('=');
    if (eq > 0) opts.set(r.slice(0, eq), r.slice(eq + 1));
    else words.push(r);
  }
  return { raw: command, name, words, opts };
}

class Env {
  #c: TestCluster | null = null;
  #noisy = false;
  /** Trace lines before this one are in an output already. */
  #shown = 0;

  get c(): TestCluster {
    if (this.#c === null) throw new TranscriptError('no cluster yet: start with `cluster ID...`');
    return this.#c;
  }

  run(command: string): string[] {
    const p = parse(command);
    this.#shown = this.#c?.trace.length ?? 0;
    const out = [...this.#dispatch(p), ...this.#newEvents()];
    return out.length === 0 ? ['ok'] : out;
  }

  /** Trace lines not shown yet (the noisy ones left out unless `trace all`). */
  #newEvents(): string[] {
    const trace = this.#c?.trace ?? [];
    const lines = trace.slice(this.#shown).filter((l) => this.#noisy || !NOISY.test(l));
    this.#shown = trace.length;
    return lines;
  }

  #dispatch(p: Parsed): string[] {
    const c = (): TestCluster => this.c;
    const num = (w: string | undefined, what: string): number => {
      const n = Number(w);
      if (w === undefined || !Number.isFinite(n) || n < 0) throw new TranscriptError(`${p.name}: ${what} expected`);
      return n;
    };
    const id = (w: string | undefined): NodeId => {
      if (w === undefined || !c().n.has(w)) throw new TranscriptError(`${p.name}: no node '${w ?? ''}'`);
      return w;
    };
    switch (p.name) {
      case 'cluster': {
        const overrides: Record<string, number> = {};
        for (const [k, v] of p.opts) overrides[k] = num(v, `a number for ${k}`);
        this.#c = new TestCluster(p.words, overrides as Partial<RaftConfigInput>);
        this.#shown = 0;
        return [];
      }
      case 'trace':
        this.#noisy = p.words[0] === 'all';
        return [];
      case 'tick':
        c().run(num(p.words[0], 'ms'), num(p.opts.get('step') ?? '10', 'step'));
        return [];
      case 'advance':
        c().advance(num(p.words[0], 'ms'));
        return [];
      case 'campaign': {
        const n = id(p.words[0]);
        c().fire(n);
        return [];
      }
      case 'propose': {
        const n = id(p.words[0]);
        const t = c().get(n);
        // The data is the rest of the line as written (it may hold '=').
        const data = p.raw.trim().split(/\s+/).slice(2).join(' ');
        const r = t.node.propose(new TextEncoder().encode(data), t.nowMs);
        c().pump(n);
        return [r.ok ? `index=${r.index} term=${r.term}` : `refused leaderHint=${r.leaderHint ?? 'none'}`];
      }
      case 'conf': {
        const [leader, kind, who] = [id(p.words[0]), p.words[1], p.words[2]];
        if (kind !== 'add-learner' && kind !== 'promote' && kind !== 'remove')
          throw new TranscriptError('conf: add-learner, promote or remove expected');
        if (who === undefined) throw new TranscriptError('conf: the member expected');
        const t = c().get(leader);
        const r = t.node.proposeConfChange({ kind, id: who, context: new Uint8Array(0) }, t.nowMs);
        c().pump(leader);
        return [r.ok ? `index=${r.index}` : `refused ${r.reason}`];
      }
      case 'add-node': {
        const list = (k: string): string[] => (p.opts.get(k) ?? '').split(',').filter((s) => s !== '');
        const n = p.words[0];
        if (n === undefined) throw new TranscriptError('add-node: an id expected');
        c().addNode(n, { voters: list('voters'), learners: list('learners') }, c().get(c().ids[0] ?? '').nowMs);
        return [];
      }
      case 'transfer': {
        const t = c().get(id(p.words[0]));
        const ok = t.node.transferLeadership(id(p.words[1]), t.nowMs);
        c().pump(id(p.words[0]));
        return ok ? [] : ['refused'];
      }
      case 'deliver':
        return this.#deliver(p.opts);
      case 'drop':
      case 'msgs': {
        const pick = matcher(p.opts);
        const picked = c().queue.filter(pick);
        if (p.name === 'drop') c().queue = c().queue.filter((m) => !pick(m));
        return picked.map(formatMessage);
      }
      case 'stabilize':
        c().deliverAll();
        return [];
      case 'partition': {
        const bar = p.words.indexOf('|');
        if (bar < 0) throw new TranscriptError('partition: A... | B... expected');
        c().drop = partition(p.words.slice(0, bar).map(id), p.words.slice(bar + 1).map(id));
        return [];
      }
      case 'isolate':
        c().drop = isolate(id(p.words[0]));
        return [];
      case 'heal':
        c().drop = () => false;
        return [];
      case 'crash': {
        const n = id(p.words[0]);
        c().get(n).paused = true;
        c().queue = c().queue.filter((m) => m.to !== n);
        return [];
      }
      case 'restart':
        c().restart(id(p.words[0]));
        return [];
      case 'pause':
      case 'resume':
        c().get(id(p.words[0])).paused = p.name === 'pause';
        return [];
      case 'status':
        return (p.words.length === 0 ? c().ids : p.words.map(id)).map((n) => this.#status(n));
      case 'log':
        return this.#log(id(p.words[0]));
      case 'lease': {
        const n = id(p.words[0]);
        const index = c().leaseRead(n);
        const s = c().node(n).status(c().get(n).nowMs);
        return [
          `${n}: read ${index === null ? 'refused' : `index=${index}`} held=${s.leaseHeld} leftMs=${round(s.leaseRemainingMs)} oldLeaseLeftMs=${round(s.oldLeaseRemainingMs)} waitingForOldLease=${s.waitingForOldLease}`,
        ];
      }
      default:
        throw new TranscriptError(`unknown command '${p.name}' (testdata/raft/README.md lists them)`);
    }
  }

  /** The messages queued now that match (not the ones their delivery sends), in order. */
  #deliver(opts: Map<string, string>): string[] {
    const c = this.c;
    const limit = opts.has('count') ? Number(opts.get('count')) : Infinity;
    const pick = matcher(opts);
    const out: string[] = [];
    for (const m of c.queue.filter(pick).slice(0, limit)) {
      if (c.deliverOne((x) => x === m) === null) continue; // to a paused node: it waits
      out.push(formatMessage(m) + (c.drop(m) ? ' (dropped)' : ''), ...this.#newEvents());
    }
    return out;
  }

  #status(n: NodeId): string {
    const t = this.c.get(n);
    const s = t.node.status(t.nowMs);
    const conf = `voters=${s.confState.voters.join(',')}${s.confState.learners.length > 0 ? ` learners=${s.confState.learners.join(',')}` : ''}`;
    return `${n}: ${s.role} term=${s.term} leader=${s.leader ?? 'none'} commit=${s.commit} last=${s.lastIndex} applied=${t.applied.length === 0 ? 0 : (t.applied.at(-1)?.index ?? 0)} lease=${s.leaseHeld ? `held(${round(s.leaseRemainingMs)}ms)` : 'none'} ${conf}${t.paused ? ' paused' : ''}`;
  }

  #log(n: NodeId): string[] {
    const d = this.c.get(n).disk;
    const hs = `${n}: term=${d.hardState.term} vote=${d.hardState.votedFor ?? 'none'} commit=${d.hardState.commit}`;
    const snap = d.snapshot === null ? [] : [`snapshot ${d.snapshot.index}/${d.snapshot.term}`];
    return [hs, ...snap, ...d.entries.map(formatEntry)];
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function matcher(opts: Map<string, string>): (m: Message) => boolean {
  const [from, to, type] = [opts.get('from'), opts.get('to'), opts.get('type')];
  return (m) =>
    (from === undefined || m.from === from) &&
    (to === undefined || m.to === to) &&
    (type === undefined || m.type === type);
}

function formatEntry(e: Entry): string {
  if (e.type === EntryType.Noop) return `${e.index}/${e.term} noop`;
  if (e.type === EntryType.ConfChange) {
    const cc = decodeConfChange(e.data);
    return `${e.index}/${e.term} conf ${cc.kind} ${cc.id}`;
  }
  return `${e.index}/${e.term} ${JSON.stringify(new TextDecoder().decode(e.data))}`;
}

/** `a->b TYPE term=T field=value ...`: entries as first..last, the rest as they are. */
export function formatMessage(m: Message): string {
  const fields = Object.entries(m)
    .filter(([k]) => !['from', 'to', 'type', 'term'].includes(k))
    .map(([k, v]) => {
      if (k === 'entries') {
        const es = v as readonly Entry[];
        return `entries=${es.length === 0 ? 'none' : `${es[0]?.index ?? 0}..${es.at(-1)?.index ?? 0}`}`;
      }
      if (k === 'snapshot') return `snapshot=${(v as { index: number }).index}`;
      if (k === 'rejectHint') return `rejectHint=${v === null ? 'none' : `${(v as Entry).index}/${(v as Entry).term}`}`;
      return `${k}=${typeof v === 'number' ? round(v) : String(v)}`;
    });
  return `${m.from}->${m.to} ${m.type} term=${m.term} ${fields.join(' ')}`.trimEnd();
}
