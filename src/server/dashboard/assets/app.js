// leasekv dashboard (issue 6). Plain ES module, no framework, nothing fetched but this node's
// config, every member's /events feed and, under `leasekv up`, the supervisor's control API.
//
// Clocks: every time in a feed is on that node's monotonic clock. For each node we keep
// offset = min over messages of (page's performance.now() at arrival − the node's nowMs in the
// message): the smallest value is the one with the least transit delay, so it is the best estimate
// of (page clock − node clock). A new connection (the node may have restarted: new clock) resets it.
// Everything is then drawn on the page's clock.

const WINDOW_MS = 20_000;
const FUTURE_MS = 3_000;
const STALE_AFTER_MS = 1_200;
const RATE_HISTORY_MS = 60_000;
const MAX_LOG = 80;
const MAX_ITEMS = 400;
/** Our own retry of a feed that EventSource gave up on (see connect), doubling up to the max. */
const RETRY_MIN_MS = 2_000;
const RETRY_MAX_MS = 30_000;
const LANE_H = 86;
const GUTTER = 118;
const AXIS_H = 22;
const SVG_NS = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);
const now = () => performance.now();
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const fmtMs = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
const fmtLat = (ms) =>
  ms <= 0 ? '–' : ms < 1 ? `${Math.round(ms * 1000)} µs` : ms < 100 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
const trim = (arr, n = MAX_ITEMS) => {
  if (arr.length > n) arr.splice(0, arr.length - n);
};

const state = { config: null, nodes: new Map(), log: [], control: null, lastLeaseBy: null, confIndex: -1 };

// ---------------------------------------------------------------- per-node model

function newNode(id, url) {
  return {
    id,
    url,
    es: null,
    connected: false,
    offset: null,
    hello: null,
    st: null,
    stAt: -Infinity,
    roles: [],
    leases: [],
    views: [],
    waits: [],
    marks: [],
    gaps: [],
    rates: [],
    downSince: null,
    learner: false,
    removed: false,
    retryMs: RETRY_MIN_MS,
    retryTimer: null,
    /** Its feed is on a host the CSP this page loaded with does not list: only a reload helps. */
    blocked: false,
  };
}

/**
 * The configuration in force (issue 12): every status names it with its index; the page follows
 * the highest index any feed reports (a lagging member reports an older one). A member not yet
 * shown gets a card and a feed; one no longer in it is marked removed and its feed closed.
 */
function applyMembers(index, members) {
  if (index < state.confIndex) return;
  const fresh = index > state.confIndex;
  state.confIndex = index;
  const ids = new Set();
  for (const m of members) {
    ids.add(m.id);
    let n = state.nodes.get(m.id);
    if (n === undefined) {
      n = newNode(m.id, m.clientAddr === '' ? '' : `${location.protocol}//${m.clientAddr}`);
      state.nodes.set(m.id, n);
      addLog(
        m.id,
        'config',
        `${m.id} joined the configuration (index ${index}) as a ${m.learner ? 'learner' : 'voter'}`,
      );
      connect(n);
    } else if (fresh && n.learner && !m.learner) addLog(m.id, 'config', `${m.id} promoted to voter (index ${index})`);
    n.learner = m.learner;
  }
  if (!fresh) return;
  for (const n of state.nodes.values()) {
    if (ids.has(n.id) || n.removed) continue;
    n.removed = true;
    addLog(n.id, 'config', `${n.id} removed from the configuration (index ${index})`);
    clearTimeout(n.retryTimer);
    n.es?.close();
    n.connected = false;
  }
}

const toPage = (n, nodeMs) => nodeMs + n.offset;
const stale = (n) => !n.connected || now() - n.stAt > STALE_AFTER_MS;
const current = (arr) => (arr.length === 0 ? null : arr[arr.length - 1]);

function addLog(node, kind, text) {
  state.log.push({ wall: new Date(), node, kind, text });
  trim(state.log, MAX_LOG);
}

function mark(n, at, kind, label) {
  n.marks.push({ at, kind, label });
  trim(n.marks);
}

function setRole(n, at, role, term, leader) {
  const cur = current(n.roles);
  if (cur !== null && cur.to === null && cur.role === role && cur.term === term) {
    cur.leader = leader;
    return false;
  }
  if (cur !== null && cur.to === null) cur.to = at;
  n.roles.push({ role, term, leader, from: at, to: null });
  trim(n.roles);
  return true;
}

function onHello(n, hello) {
  const t = now();
  if (n.hello === null) addLog(n.id, 'info', `live feed connected (${n.url.replace(/^https?:\/\//, '')})`);
  n.hello = hello;
  n.offset = t - hello.nowMs;
  n.connected = true;
  if (n.downSince !== null) {
    n.gaps.push({ from: n.downSince, to: t });
    trim(n.gaps);
    addLog(n.id, 'info', 'feed connected again');
  }
  n.downSince = null;
}

function onStatus(n, st) {
  const t = now();
  n.offset = Math.min(n.offset ?? Infinity, t - st.nowMs);
  n.st = st;
  n.stAt = t;
  const at = toPage(n, st.nowMs);
  setRole(n, at, st.role, st.term, st.leader);
  // The leader's own lease, in case its acquisition came before we connected.
  const lease = current(n.leases);
  if (st.leaseHeld) {
    const until = at + st.leaseRemainingMs;
    if (lease === null || lease.term !== st.term || lease.closed)
      n.leases.push({ term: st.term, from: at, until, renewals: [], closed: false });
    else lease.until = Math.max(lease.until, until);
  }
  // A follower's view of the leader's lease: extended by every status while it runs.
  if (st.role !== 'leader' && st.oldLeaseRemainingMs > 0) {
    const until = at + st.oldLeaseRemainingMs;
    const view = current(n.views);
    const who = st.leader ?? view?.leader ?? '?';
    if (view !== null && view.leader === who && view.until >= at - 50) view.until = Math.max(view.until, until);
    else n.views.push({ leader: who, from: at, until });
    trim(n.views);
  }
  if (st.waitingForOldLease) {
    const w = current(n.waits);
    if (w === null || w.term !== st.term) n.waits.push({ term: st.term, from: at, until: at + st.oldLeaseRemainingMs });
  }
  n.rates.push({ at: t, intervalMs: st.intervalMs, reads: st.reads, writes: st.writes, modes: st.readModes });
  if (Array.isArray(st.members)) applyMembers(st.configIndex ?? 0, st.members);
  while (n.rates.length > 0 && n.rates[0].at < t - RATE_HISTORY_MS) n.rates.shift();
}

function onRaft(n, { atMs, e }) {
  const at = toPage(n, atMs);
  switch (e.kind) {
    case 'role':
      if (setRole(n, at, e.role, e.term, e.leader)) {
        if (e.role === 'leader') {
          mark(n, at, 'leader', `leader t${e.term}`);
          addLog(n.id, 'role', `became leader of term ${e.term}`);
        } else if (e.role === 'candidate') addLog(n.id, 'role', `campaigns for term ${e.term}`);
        else if (e.role === 'pre-candidate')
          addLog(n.id, 'role', `pre-vote: asks whether it could win term ${e.term + 1}`);
        else
          addLog(
            n.id,
            'role',
            e.leader ? `follows ${e.leader} (term ${e.term})` : `follower, term ${e.term}, no leader known`,
          );
      }
      break;
    case 'election-timeout':
      mark(n, at, 'timeout', e.preVote ? 'timeout→pre-vote' : 'timeout→vote');
      addLog(
        n.id,
        'election',
        `election timeout in term ${e.term}: heard no leader${e.preVote ? ', starts a pre-vote' : ''}`,
      );
      break;
    case 'vote':
      mark(n, at, e.granted ? 'vote-yes' : 'vote-no', `${e.granted ? '✓' : '✗'} ${e.candidate}`);
      addLog(
        n.id,
        'vote',
        `${e.granted ? 'grants' : 'refuses'} ${e.reason.startsWith('pre-vote') ? 'pre-vote' : 'vote'} to ${e.candidate} (term ${e.term})${e.granted ? '' : `: ${e.reason}`}`,
      );
      break;
    case 'lease-acquired': {
      n.leases.push({ term: e.term, from: at, until: toPage(n, e.untilMs), renewals: [], closed: false });
      trim(n.leases);
      mark(n, at, 'lease', `lease t${e.term}`);
      addLog(n.id, 'lease', `acquires its lease (term ${e.term}), valid ${fmtMs(e.untilMs - atMs)} ahead`);
      noteHandover(n, at, e.term);
      break;
    }
    case 'lease-renewed': {
      const l = current(n.leases);
      if (l !== null && l.term === e.term && !l.closed) {
        l.until = Math.max(l.until, toPage(n, e.untilMs));
        l.renewals.push(at);
        trim(l.renewals, 300);
      }
      break;
    }
    case 'lease-lost': {
      const l = current(n.leases);
      if (l !== null && !l.closed) {
        l.until = Math.min(l.until, at);
        l.closed = true;
      }
      mark(n, at, 'lost', 'lease lost');
      addLog(n.id, 'lease', `lease lost (term ${e.term}): ${e.reason}`);
      break;
    }
    case 'waiting-old-lease':
      n.waits.push({ term: e.term, from: at, until: toPage(n, e.untilMs) });
      trim(n.waits);
      addLog(
        n.id,
        'wait',
        `new leader waits ${fmtMs(e.untilMs - atMs)} for the old leader's lease to run out before taking its own`,
      );
      break;
    case 'old-lease-seen':
      n.views.push({ leader: e.leader, from: at, until: toPage(n, e.untilMs) });
      trim(n.views);
      addLog(n.id, 'lease', `sees ${e.leader}'s lease (term ${e.term}) and will vote for no one else while it runs`);
      break;
    case 'step-down':
      mark(n, at, 'step-down', 'steps down');
      addLog(n.id, 'role', `steps down (term ${e.term}): ${e.reason}`);
      break;
    case 'config':
      // A membership change in force on this node (appended, truncated away, or from a snapshot).
      mark(n, at, 'config', 'members');
      addLog(
        n.id,
        'config',
        `configuration at index ${e.index}: voters ${e.voters || '-'}${e.learners ? `, learners ${e.learners}` : ''}`,
      );
      break;
    default:
      break;
  }
}

/**
 * A lease of a new term: compare its start with the end of the latest lease of an older term held
 * elsewhere. A negative gap would mean two leases at once (or clock alignment error of a few ms).
 */
function noteHandover(n, at, term) {
  let prev = null;
  for (const other of state.nodes.values()) {
    if (other === n) continue;
    for (const l of other.leases)
      if (l.term < term && (prev === null || l.until > prev.lease.until)) prev = { node: other, lease: l };
  }
  if (prev === null) return;
  const gapMs = at - prev.lease.until;
  const waited = n.waits.find((w) => w.term === term);
  const text =
    gapMs >= 0
      ? `lease handover ${prev.node.id} (term ${prev.lease.term}) → ${n.id} (term ${term}): no overlap; the new lease began ${fmtMs(gapMs)} after the old one ended${waited ? `, after waiting ${fmtMs(waited.until - waited.from)} for it` : ''}`
      : `leases OVERLAP by ${fmtMs(-gapMs)}: ${prev.node.id} (term ${prev.lease.term}) and ${n.id} (term ${term}) — as aligned by this page`;
  addLog(n.id, gapMs >= 0 ? 'handover' : 'overlap', text);
  state.handovers = state.handovers ?? [];
  state.handovers.push({ from: prev.node.id, to: n.id, oldEnd: prev.lease.until, at, gapMs });
  trim(state.handovers, 50);
}

function connect(n) {
  if (n.url === '' || n.removed) return;
  const es = new EventSource(`${n.url}/events`);
  n.es = es;
  es.addEventListener('hello', (ev) => {
    n.retryMs = RETRY_MIN_MS;
    onHello(n, JSON.parse(ev.data));
  });
  es.addEventListener('status', (ev) => {
    if (n.offset !== null) onStatus(n, JSON.parse(ev.data));
  });
  es.addEventListener('raft', (ev) => {
    if (n.offset !== null) onRaft(n, JSON.parse(ev.data));
  });
  es.onerror = () => {
    if (n.connected) {
      n.connected = false;
      n.downSince = Math.max(n.stAt, now() - STALE_AFTER_MS);
      const r = current(n.roles);
      if (r !== null && r.to === null) r.to = n.stAt;
      addLog(n.id, 'info', 'feed lost: the node is down or unreachable (retrying)');
    }
    // EventSource retries by itself after a network error, but gives up for good (CLOSED) when the
    // answer is not a 200 event stream — a node at its subscriber cap answers 503 — or fails CORS.
    // The card then said "unreachable" until the page was reloaded: retry here, backing off.
    if (es.readyState === EventSource.CLOSED && n.es === es && !n.removed && !n.blocked) {
      const wait = n.retryMs;
      if (wait === RETRY_MIN_MS)
        addLog(
          n.id,
          'info',
          "feed refused (the node may be at its subscriber cap, or not list this page's origin): retrying",
        );
      n.retryMs = Math.min(RETRY_MAX_MS, wait * 2);
      clearTimeout(n.retryTimer);
      n.retryTimer = setTimeout(() => {
        if (n.es === es && !n.removed) connect(n);
      }, wait);
    }
  };
}

/** A feed the page's own CSP refused (a member added later on a host the page did not know). */
function onCspViolation(e) {
  if (e.effectiveDirective !== 'connect-src') return;
  for (const n of state.nodes.values()) {
    // blockedURI is the feed's URL, or only its origin (browsers strip some).
    if (n.url === '' || n.blocked || (e.blockedURI !== n.url && !e.blockedURI.startsWith(`${n.url}/`))) continue;
    n.blocked = true;
    clearTimeout(n.retryTimer);
    addLog(n.id, 'info', `its feed (${n.url}) is not allowed by the page as it was loaded: reload the page to see it`);
  }
}

// ---------------------------------------------------------------- supervisor controls

async function pollControl() {
  const c = state.control;
  if (c === null) return;
  try {
    const res = await fetch(`${c.url}/nodes`, { cache: 'no-store' });
    const body = await res.json();
    c.states = new Map(body.nodes.map((s) => [s.id, s]));
    c.ok = true;
  } catch {
    c.ok = false;
  }
}

async function act(id, action) {
  const c = state.control;
  const n = state.nodes.get(id);
  if (n !== undefined) mark(n, now(), 'control', action);
  addLog(id, 'control', `you: ${action} ${id}`);
  try {
    const res = await fetch(`${c.url}/nodes/${encodeURIComponent(id)}/${action}`, {
      method: 'POST',
      headers: { 'x-leasekv-control': '1' },
    });
    const body = await res.json();
    if (!res.ok) addLog(id, 'control', `${action} failed: ${body.error ?? res.status}`);
    else c.states.set(id, body);
  } catch (err) {
    addLog(id, 'control', `${action} failed: ${err}`);
  }
}

async function addMember() {
  const c = state.control;
  const b = $('add-member');
  b.disabled = true;
  addLog('up', 'control', 'you: add member');
  try {
    const res = await fetch(`${c.url}/members/add`, { method: 'POST', headers: { 'x-leasekv-control': '1' } });
    const body = await res.json();
    if (!res.ok) addLog('up', 'control', `add member failed: ${body.error ?? res.status}`);
    else {
      c.states.set(body.id, body);
      addLog(body.id, 'control', `${body.id} added; it joins as a learner and the leader promotes it once caught up`);
    }
  } catch (err) {
    addLog('up', 'control', `add member failed: ${err}`);
  } finally {
    b.disabled = false;
  }
}

// ---------------------------------------------------------------- cards

function buildCard(n) {
  const el = document.createElement('article');
  el.className = 'card';
  el.dataset.nodeId = n.id;
  el.innerHTML = `
    <div class="card-head"><span class="id">${esc(n.id)}</span><span class="badge role"></span><span class="badge member" hidden></span><span class="badge proc" hidden></span><span class="badge proc isolated" hidden>isolated</span><span class="addr mono">${esc(n.url.replace(/^https?:\/\//, ''))}</span></div>
    <dl class="kv">
      <dt>term</dt><dd class="num f-term"></dd>
      <dt>commit / applied</dt><dd class="num f-index"></dd>
      <dt>lease</dt><dd><span class="f-lease"></span><div class="meter m-lease"><span></span></div></dd>
      <dt class="l-old">old lease</dt><dd><span class="f-old"></span><div class="meter view m-old"><span></span></div></dd>
      <dt>requests</dt><dd class="num f-req"></dd>
      <dt>revision</dt><dd class="num f-coord"></dd>
      <dt title="How late the consensus thread's event loop ran (heartbeats, votes, lease renewals), last 10-20 s">loop lag</dt><dd class="num f-lag"></dd>
      <dt title="This member's leasekv version and the newest peer protocol it speaks; cluster: the newest every member is known to speak (lower during a rolling upgrade)">build</dt><dd class="num f-build"></dd>
    </dl>
    <div class="controls" hidden></div>`;
  const controls = el.querySelector('.controls');
  for (const [action, label, cls] of [
    ['kill', 'Kill', 'danger'],
    ['restart', 'Restart', ''],
    ['pause', 'Pause', ''],
    ['resume', 'Resume', ''],
    ['isolate', 'Isolate', ''],
    ['heal', 'Heal', ''],
    ['remove-member', 'Remove', 'danger'],
  ]) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.className = cls;
    b.dataset.action = action;
    b.setAttribute('aria-label', `${label} ${n.id}`);
    b.addEventListener('click', () => void act(n.id, action));
    controls.append(b);
  }
  return el;
}

function fmtLag(ms) {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

function recentRate(n, key, spanMs = 1_000) {
  const t = now();
  let count = 0,
    ms = 0,
    p99 = 0;
  for (const r of n.rates)
    if (r.at >= t - spanMs) {
      count += r[key].count;
      ms += r.intervalMs;
      p99 = Math.max(p99, r[key].p99Ms);
    }
  return { perSec: ms === 0 ? 0 : (count * 1000) / ms, p99 };
}

function updateCard(el, n) {
  const st = n.st;
  const down = stale(n) || st === null;
  const role = n.removed ? 'removed' : down ? 'unreachable' : st.role;
  el.dataset.role = role;
  el.dataset.member = n.removed ? 'removed' : n.learner ? 'learner' : 'voter';
  const mb = el.querySelector('.badge.member');
  mb.hidden = !n.removed && !n.learner;
  mb.className = `badge member ${el.dataset.member}`;
  mb.textContent = n.removed ? 'removed' : 'learner (no vote)';
  const badge = el.querySelector('.badge.role');
  badge.className = `badge role ${role}`;
  const proc = state.control?.states.get(n.id);
  badge.hidden = n.removed;
  badge.textContent = !down
    ? role === 'leader'
      ? '★ leader'
      : role
    : n.blocked
      ? 'reload to see its feed'
      : proc?.state === 'paused'
        ? 'paused'
        : proc?.state === 'running' && !n.connected
          ? 'no feed (starting?)'
          : n.connected
            ? 'no updates'
            : 'unreachable';
  const t = now();
  el.querySelector('.f-term').textContent = st === null ? '–' : `${st.term}${down ? ' (last seen)' : ''}`;
  el.querySelector('.f-index').textContent = st === null ? '–' : `${st.commit} / ${st.applied}`;
  const co = st?.coord;
  el.querySelector('.f-coord').textContent =
    co === undefined
      ? '–'
      : `${co.revision} · ${co.watchers} watcher${co.watchers === 1 ? '' : 's'} · ${co.ttlGrants} TTL grant${co.ttlGrants === 1 ? '' : 's'}${co.ttlCounting ? ' (counting)' : ''}`;
  const b = st?.build;
  el.querySelector('.f-build').textContent =
    b === undefined ? '–' : `${b.version} · protocol ${b.protocol}${b.clusterProtocol === b.protocol ? '' : ` · cluster ${b.clusterProtocol}`}`;
  const lag = st?.loopLag;
  el.querySelector('.f-lag').textContent =
    lag === undefined ? '–' : `p99 ${fmtLag(lag.p99Ms)} · max ${fmtLag(lag.maxMs)}`;
  const lease = current(n.leases);
  const leaseLeft = !down && lease !== null && !lease.closed ? Math.max(0, lease.until - t) : 0;
  const leaseDur = n.hello?.leaseDurationMs ?? 1000;
  el.querySelector('.f-lease').textContent = down
    ? '–'
    : st.waitingForOldLease
      ? 'waiting for the old lease'
      : st.leaseHeld
        ? `held · ${fmtMs(leaseLeft)} left`
        : 'not held';
  const lm = el.querySelector('.m-lease');
  lm.classList.toggle('wait', !down && st.waitingForOldLease);
  lm.firstElementChild.style.width = `${Math.min(100, (100 * (st?.waitingForOldLease ? st.oldLeaseRemainingMs : leaseLeft)) / leaseDur)}%`;
  const oldLeft = down ? 0 : st.oldLeaseRemainingMs;
  const view = current(n.views);
  el.querySelector('.l-old').textContent = st?.role === 'leader' ? 'old lease wait' : "leader's lease";
  el.querySelector('.f-old').textContent = down
    ? '–'
    : oldLeft > 0
      ? `${view?.leader ?? st.leader ?? '?'}'s · ${fmtMs(oldLeft)} left`
      : 'none running';
  el.querySelector('.m-old').firstElementChild.style.width = `${Math.min(100, (100 * oldLeft) / leaseDur / 1.1)}%`;
  const rd = recentRate(n, 'reads'),
    wr = recentRate(n, 'writes');
  el.querySelector('.f-req').textContent = down
    ? '–'
    : `${Math.round(rd.perSec)} reads/s · ${Math.round(wr.perSec)} writes/s`;
  const c = state.control;
  const controls = el.querySelector('.controls');
  controls.hidden = c === null || n.removed;
  if (c !== null) {
    const cs = c.states.get(n.id);
    const proc = el.querySelector('.badge.proc:not(.isolated)');
    proc.hidden = cs === undefined || cs.state === 'running';
    if (cs !== undefined) {
      proc.textContent = cs.state === 'stopped' ? `stopped${cs.lastExit ? ` (${cs.lastExit})` : ''}` : cs.state;
      proc.className = `badge proc ${cs.state}`;
    }
    el.querySelector('.badge.proc.isolated').hidden = !(cs?.isolated ?? false);
    const running = cs?.state === 'running',
      paused = cs?.state === 'paused';
    for (const b of controls.querySelectorAll('button')) {
      const a = b.dataset.action;
      // Members added from the page have no fault proxy (docs/dashboard.md).
      b.hidden =
        (a === 'pause' && paused) ||
        (a === 'resume' && !paused) ||
        (a === 'isolate' && (cs?.isolated || cs?.added)) ||
        (a === 'heal' && !cs?.isolated);
      b.disabled = cs === undefined || ((a === 'kill' || a === 'pause') && !running && !(a === 'kill' && paused));
    }
  }
}

// ---------------------------------------------------------------- timeline (SVG)

function renderTimeline() {
  const box = $('timeline');
  const width = Math.max(600, box.clientWidth);
  const nodes = [...state.nodes.values()];
  const height = nodes.length * LANE_H + AXIS_H;
  const t = now();
  const t0 = t - WINDOW_MS,
    t1 = t + FUTURE_MS;
  const x = (ms) => GUTTER + ((Math.min(Math.max(ms, t0), t1) - t0) / (t1 - t0)) * (width - GUTTER - 12);
  const out = [];
  const rect = (a, b, y, h, attrs) => {
    if (b > t0 && a < t1 && b > a)
      out.push(
        `<rect x="${x(a).toFixed(1)}" y="${y}" width="${Math.max(1, x(b) - x(a)).toFixed(1)}" height="${h}" ${attrs}/>`,
      );
  };
  const label = (a, b, y, text, cls = '') => {
    const w = x(b) - x(a);
    if (w > text.length * 6.2 + 6)
      out.push(`<text x="${(x(a) + 4).toFixed(1)}" y="${y}" class="${cls}">${esc(text)}</text>`);
  };
  out.push(`<rect x="${x(t)}" y="0" width="${width - x(t)}" height="${height - AXIS_H}" fill="#f1f3f5"/>`);
  nodes.forEach((n, i) => {
    const y = i * LANE_H + 4;
    if (i > 0) out.push(`<line x1="0" x2="${width}" y1="${y - 4}" y2="${y - 4}" stroke="#e3e7eb"/>`);
    const down = stale(n);
    out.push(`<text x="10" y="${y + 20}" class="lane-id">${esc(n.id)}</text>`);
    out.push(
      `<text x="10" y="${y + 36}" class="lane-role">${esc(n.removed ? 'removed' : down ? 'unreachable' : `${n.learner ? 'learner · ' : ''}${n.st?.role ?? ''}`)}</text>`,
    );
    out.push(
      `<text x="10" y="${y + 52}" class="lane-role">own lease</text><text x="10" y="${y + 67}" class="lane-role">leader's lease</text>`,
    );
    // Row 1: role.
    for (const r of n.roles) {
      const end = r.to ?? (down ? n.stAt : t);
      const cls = r.role === 'leader' ? 'sw-leader' : r.role === 'follower' ? 'sw-follower' : 'sw-candidate';
      rect(r.from, end, y, 18, `class="${cls}" data-kind="role-${r.role}"`);
      label(
        r.from,
        end,
        y + 13,
        r.role === 'leader'
          ? `leader · term ${r.term}`
          : r.role === 'follower'
            ? `follower t${r.term}${r.leader ? ` → ${r.leader}` : ''}`
            : `${r.role} t${r.term}`,
        r.role === 'leader' ? 'on-dark' : '',
      );
    }
    for (const g of n.gaps) rect(g.from, g.to, y, 18, 'class="sw-down" data-kind="down"');
    if (n.downSince !== null || (down && n.stAt > -Infinity)) {
      const from = n.downSince ?? n.stAt;
      rect(from, t, y, 18, 'class="sw-down" data-kind="down"');
      label(
        from,
        t,
        y + 13,
        n.removed ? 'removed from the cluster' : n.connected ? 'no updates (paused?)' : 'unreachable',
      );
    }
    // Row 2: own lease, and a new leader's wait for the old lease.
    for (const w of n.waits) {
      rect(w.from, w.until, y + 22, 18, 'class="sw-wait" data-kind="wait"');
      label(w.from, w.until, y + 35, 'waits for old lease');
    }
    for (const l of n.leases) {
      rect(l.from, l.until, y + 22, 18, `class="sw-lease" data-kind="lease" data-term="${l.term}"`);
      label(l.from, Math.min(l.until, t), y + 35, `lease · term ${l.term}`, 'on-dark');
      for (const r of l.renewals)
        if (r > t0)
          out.push(
            `<line x1="${x(r).toFixed(1)}" x2="${x(r).toFixed(1)}" y1="${y + 36}" y2="${y + 40}" stroke="#ffffff" stroke-opacity=".8"/>`,
          );
    }
    // Row 3: this node's view of the leader's lease.
    for (const v of n.views) {
      rect(v.from, v.until, y + 44, 14, 'class="sw-view" data-kind="view"');
      label(v.from, v.until, y + 55, `${v.leader}'s lease`);
    }
    // Row 4: elections, votes, control actions.
    let lastLabelX = -Infinity;
    for (const m of n.marks) {
      if (m.at < t0) continue;
      const mx = x(m.at);
      const colour =
        m.kind === 'vote-no' || m.kind === 'lost' || m.kind === 'control'
          ? '#D55E00'
          : m.kind === 'timeout'
            ? '#E69F00'
            : m.kind === 'leader'
              ? '#0072B2'
              : '#009E73';
      out.push(
        `<line x1="${mx.toFixed(1)}" x2="${mx.toFixed(1)}" y1="${y}" y2="${y + 72}" stroke="${colour}" stroke-width="${m.kind === 'control' ? 2 : 1}" stroke-dasharray="${m.kind === 'control' ? '' : '3 2'}" data-kind="mark-${m.kind}"/>`,
      );
      if (mx - lastLabelX > 70) {
        out.push(`<text x="${(mx + 2).toFixed(1)}" y="${y + 78}" class="mark-label">${esc(m.label)}</text>`);
        lastLabelX = mx;
      }
    }
  });
  for (const h of state.handovers ?? []) {
    if (h.at < t0) continue;
    const a = nodes.findIndex((n) => n.id === h.from),
      b = nodes.findIndex((n) => n.id === h.to);
    if (a < 0 || b < 0) continue;
    const ya = a * LANE_H + 4 + 31,
      yb = b * LANE_H + 4 + 31;
    out.push(
      `<path d="M${x(h.oldEnd).toFixed(1)} ${ya} L${x(h.at).toFixed(1)} ${yb}" stroke="${h.gapMs >= 0 ? '#1d2329' : '#D55E00'}" stroke-width="1.5" stroke-dasharray="4 3" fill="none" data-kind="handover"/>`,
    );
  }
  // Axis: whole seconds before now, and the "now" line.
  const ay = height - AXIS_H + 14;
  for (let s = -Math.floor(WINDOW_MS / 1000); s <= FUTURE_MS / 1000; s += 2) {
    out.push(
      `<text x="${x(t + s * 1000).toFixed(1)}" y="${ay}" class="axis" text-anchor="middle">${s === 0 ? 'now' : `${s > 0 ? '+' : ''}${s} s`}</text>`,
    );
  }
  out.push(`<line x1="${x(t)}" x2="${x(t)}" y1="0" y2="${height - AXIS_H}" stroke="#1d2329" stroke-width="1.5"/>`);
  box.innerHTML = `<svg xmlns="${SVG_NS}" viewBox="0 0 ${width} ${height}" height="${height}">${out.join('')}</svg>`;
}

// ---------------------------------------------------------------- requests and log

function renderRates() {
  const nodes = [...state.nodes.values()];
  const rows = nodes.map((n) => {
    const rd = recentRate(n, 'reads'),
      wr = recentRate(n, 'writes');
    const modes = { lease: 0, readindex: 0, stale: 0 };
    for (const r of n.rates)
      if (r.at >= now() - 1000) for (const k of Object.keys(modes)) modes[k] += r.modes?.[k] ?? 0;
    return `<tr><td>${esc(n.id)}</td><td class="num">${Math.round(rd.perSec)}</td><td class="num">${fmtLat(rd.p99)}</td><td class="num">${Math.round(wr.perSec)}</td><td class="num">${fmtLat(wr.p99)}</td><td class="num">${modes.lease} / ${modes.readindex} / ${modes.stale}</td></tr>`;
  });
  // Cluster reads/writes per second over the last minute, one point per second.
  const W = 560,
    H = 90,
    t = now();
  const series = { reads: [], writes: [] };
  for (let s = 60; s >= 0; s--) {
    const a = t - (s + 1) * 1000,
      b = t - s * 1000;
    for (const key of ['reads', 'writes']) {
      let c = 0;
      for (const n of nodes) for (const r of n.rates) if (r.at >= a && r.at < b) c += r[key].count;
      series[key].push(c);
    }
  }
  const max = Math.max(10, ...series.reads, ...series.writes);
  const pts = (arr) =>
    arr
      .map((v, i) => `${(40 + (i / 60) * (W - 50)).toFixed(1)},${(H - 16 - (v / max) * (H - 28)).toFixed(1)}`)
      .join(' ');
  $('rates').innerHTML = `
    <table class="rates"><thead><tr><th>node</th><th>reads/s</th><th>read p99</th><th>writes/s</th><th>write p99</th><th>reads: lease / readindex / stale (last s)</th></tr></thead><tbody>${rows.join('')}</tbody></table>
    <svg class="spark" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="cluster reads and writes per second, last minute">
      <text x="4" y="14">${max}/s</text><text x="4" y="${H - 16}">0</text><text x="40" y="${H - 3}">−60 s</text><text x="${W - 30}" y="${H - 3}">now</text>
      <polyline points="${pts(series.reads)}" fill="none" stroke="#0072B2" stroke-width="2"/>
      <polyline points="${pts(series.writes)}" fill="none" stroke="#D55E00" stroke-width="2" stroke-dasharray="6 3"/>
      <text x="${W - 190}" y="14" fill="#0072B2">— reads/s</text><text x="${W - 100}" y="14">- - writes/s</text>
    </svg>`;
}

function renderLog() {
  $('log').innerHTML = state.log
    .slice()
    .reverse()
    .map((l) => {
      const tm = l.wall.toTimeString().slice(0, 8) + '.' + String(l.wall.getMilliseconds()).padStart(3, '0');
      return `<li data-kind="${esc(l.kind)}"><time class="num">${tm}</time><span class="who">${esc(l.node)}</span><span>${esc(l.text)}</span></li>`;
    })
    .join('');
}

function renderSummary() {
  const shown = [...state.nodes.values()].filter((n) => !n.removed);
  const live = shown.filter((n) => !stale(n) && n.st !== null);
  const leaders = live.filter((n) => n.st.role === 'leader');
  let text;
  if (leaders.length === 0) text = `No leader · ${live.length} of ${shown.length} members reachable`;
  else {
    const l = leaders.reduce((a, b) => (b.st.term > a.st.term ? b : a));
    const lease = l.st.waitingForOldLease
      ? `waiting ${fmtMs(l.st.oldLeaseRemainingMs)} for the old lease`
      : l.st.leaseHeld
        ? 'holds the lease'
        : 'no lease (reads use ReadIndex)';
    text = `Leader ${l.id} · term ${l.st.term} · ${lease} · ${live.length} of ${shown.length} members reachable`;
  }
  $('summary').textContent = text;
  $('summary').dataset.leaders = String(leaders.length);
}

function render() {
  for (const n of state.nodes.values()) {
    let el = document.querySelector(`.card[data-node-id="${CSS.escape(n.id)}"]`);
    if (el === null) {
      el = buildCard(n);
      $('cards').append(el);
    }
    updateCard(el, n);
  }
  renderSummary();
  renderTimeline();
  renderRates();
  renderLog();
}

async function main() {
  document.addEventListener('securitypolicyviolation', onCspViolation);
  const cfg = await (await fetch('/dashboard/config.json', { cache: 'no-store' })).json();
  state.config = cfg;
  $('settings').textContent =
    `heartbeat ${cfg.heartbeatIntervalMs} ms · election timeout ${cfg.electionTimeoutMinMs}–${cfg.electionTimeoutMaxMs} ms · lease ${cfg.leaseDurationMs} ms · served by ${cfg.id}`;
  $('timeline-hint').textContent = `last ${WINDOW_MS / 1000} s · right of “now”: time already covered by leases`;
  for (const m of cfg.members) {
    const url = m.id === cfg.id ? location.origin : m.clientAddr === '' ? '' : `${location.protocol}//${m.clientAddr}`;
    const n = newNode(m.id, url);
    state.nodes.set(m.id, n);
    if (url === '') addLog(m.id, 'info', 'no client address known (pass --client-addrs): not shown live');
    connect(n);
  }
  if (cfg.controlUrl !== '') {
    state.control = { url: cfg.controlUrl, states: new Map(), ok: false };
    $('control-note').hidden = false;
    $('member-controls').hidden = false;
    $('add-member').addEventListener('click', () => void addMember());
    await pollControl();
    setInterval(() => void pollControl(), 1000);
  }
  render();
  setInterval(render, 100);
}

main().catch((err) => {
  $('summary').textContent = `dashboard failed to start: ${err}`;
});
