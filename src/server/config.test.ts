import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_DRIFT_RATE, MAX_MEMBERS } from '../raft/config.ts';
import { buildNodeConfig, NodeConfigError, parseHostPort, rawFromArgs } from './config.ts';
import { raftConfigFor } from './node-drive.ts';

const base = [
  '--id',
  'n1',
  '--data-dir',
  '/tmp/x',
  '--listen-peer',
  '0.0.0.0:7101',
  '--listen-client',
  '0.0.0.0:7001',
  '--peers',
  'n1=10.0.0.1:7101,n2=10.0.0.2:7101,n3=host-3.example:7101',
];

test('flags build a config with production-like defaults; nothing assumes localhost', () => {
  const c = buildNodeConfig(rawFromArgs(base, {}));
  assert.equal(c.id, 'n1');
  assert.deepEqual(c.peers.get('n3'), { host: 'host-3.example', port: 7101 });
  assert.equal(c.heartbeatIntervalMs, 50);
  assert.equal(c.electionTimeoutMinMs, 600);
  assert.equal(c.electionTimeoutMaxMs, 1200);
  assert.equal(c.leaseDurationMs, 540);
  // The defaults satisfy the lease inequality even at a drift bound of 5% (docs/lease-safety.md).
  assert.ok((c.leaseDurationMs * 1.05) / 0.95 < c.electionTimeoutMinMs);
});

test('flags win over environment; the far profile widens timings', () => {
  const c = buildNodeConfig(
    rawFromArgs([...base, '--heartbeat-ms', '50'], { LEASEKV_HEARTBEAT_MS: '70', LEASEKV_PROFILE: 'far' }),
  );
  assert.equal(c.heartbeatIntervalMs, 50);
  assert.equal(c.electionTimeoutMinMs, 3000);
});

test('bad input gets a clear error naming the setting', () => {
  const cases: [string[], RegExp][] = [
    [['--id', 'n9', ...base.slice(2)], /must include this member 'n9'/],
    [[...base, '--heartbeat-ms', 'abc'], /--heartbeat-ms/],
    [[...base, '--bogus', '1'], /unknown option '--bogus'/],
    [[...base.slice(0, -1), 'n1=nohost'], /not HOST:PORT/],
    [[...base, '--profile', 'mars'], /--profile/],
    [base.slice(2), /--id is required/],
  ];
  for (const [argv, re] of cases) {
    assert.throws(
      () => buildNodeConfig(rawFromArgs(argv, {})),
      (e: unknown) => e instanceof NodeConfigError && re.test(e.message),
    );
  }
});

test('--http1-framing: on by default, off by flag, environment or file key; anything else refused', () => {
  assert.equal(buildNodeConfig(rawFromArgs(base, {})).http1Framing, true);
  assert.equal(buildNodeConfig(rawFromArgs([...base, '--http1-framing', 'off'], {})).http1Framing, false);
  assert.equal(buildNodeConfig(rawFromArgs(base, { LEASEKV_HTTP1_FRAMING: 'off' })).http1Framing, false);
  assert.equal(
    buildNodeConfig(rawFromArgs([...base, '--http1-framing=on'], { LEASEKV_HTTP1_FRAMING: 'off' })).http1Framing,
    true,
  );
  assert.throws(
    () => buildNodeConfig(rawFromArgs([...base, '--http1-framing', 'no'], {})),
    (e: unknown) => e instanceof NodeConfigError && /--http1-framing must be on or off, not 'no'/.test(e.message),
  );
});

test('host:port parsing accepts names, IPv4 and bracketed IPv6', () => {
  assert.deepEqual(parseHostPort('[::1]:80', 'x'), { host: '::1', port: 80 });
  assert.deepEqual(parseHostPort('a.b-c:1', 'x'), { host: 'a.b-c', port: 1 });
  assert.throws(() => parseHostPort('a:70000', 'x'), NodeConfigError);
  // An unbracketed IPv6 address: the error says how to write it (session 9 audit).
  assert.throws(
    () => parseHostPort('::1:7001', '--listen-client'),
    (e: unknown) => e instanceof NodeConfigError && e.message.includes('in brackets: [::1]:7001'),
  );
});

test('--listen-peer and --listen-client on one port are refused, naming both (not a bare EADDRINUSE)', () => {
  const listen = (peer: string, client: string): string[] => [
    '--id',
    'n1',
    '--data-dir',
    '/d',
    '--listen-peer',
    peer,
    '--listen-client',
    client,
    '--peers',
    'n1=10.0.0.1:7101',
  ];
  for (const [peer, client] of [
    ['127.0.0.1:7001', '127.0.0.1:7001'],
    ['0.0.0.0:7001', '127.0.0.1:7001'],
    ['10.0.0.1:7001', '[::]:7001'],
  ] as const) {
    assert.throws(
      () => buildNodeConfig(rawFromArgs(listen(peer, client), {})),
      (e: unknown) =>
        e instanceof NodeConfigError && /--listen-peer .* and --listen-client .* share a port/.test(e.message),
      `${peer} ${client}`,
    );
  }
  // Two addresses of the host on one port are two sockets; port 0 picks a free port for each.
  buildNodeConfig(rawFromArgs(listen('127.0.0.1:7001', '127.0.0.2:7001'), {}));
  buildNodeConfig(rawFromArgs(listen('127.0.0.1:0', '127.0.0.1:0'), {}));
});

test('addresses others dial: an unspecified host, port 0, one address for two members, a client port as a peer port are refused, naming the fix (session 11 audit)', () => {
  const build = (extra: string[]): unknown => buildNodeConfig(rawFromArgs([...base.slice(0, -2), ...extra], {}));
  const cases: [string[], RegExp][] = [
    [
      ['--peers', 'n1=0.0.0.0:7101,n2=10.0.0.2:7101'],
      /--peers \(n1\): 0\.0\.0\.0:7101 listens on every interface but cannot be dialled/,
    ],
    [['--peers', 'n1=10.0.0.1:7101,n2=[::]:7101'], /--peers \(n2\): \[::\]:7101 listens on every interface/],
    [['--peers', 'n1=10.0.0.1:7101', '--client-addrs', 'n1=0.0.0.0:7001'], /--client-addrs \(n1\): 0\.0\.0\.0:7001/],
    [['--join', '0.0.0.0:7001'], /--join: 0\.0\.0\.0:7001 listens on every interface/],
    [['--peers', 'n1=10.0.0.1:0'], /--peers \(n1\): 10\.0\.0\.1:0 has port 0/],
    [
      ['--peers', 'n1=h:7101,n2=H:7101'],
      /--peers \(n2\): H:7101 is also n1's peer address in --peers: each member needs its own address/,
    ],
    [
      ['--peers', 'n1=10.0.0.1:7101,n2=10.0.0.2:7001', '--client-addrs', 'n1=10.0.0.1:7001,n2=10.0.0.2:7001'],
      /--client-addrs \(n2\): 10\.0\.0\.2:7001 is also n2's peer address in --peers: a member has a peer port \(--listen-peer\) and a client port/,
    ],
    [
      ['--peers', 'n1=10.0.0.1:7101,n2=10.0.0.2:7101', '--client-addrs', 'n1=10.0.0.1:7001,n2=10.0.0.1:7001'],
      /--client-addrs \(n2\): 10\.0\.0\.1:7001 is also n1's client address/,
    ],
  ];
  for (const [extra, re] of cases) {
    assert.throws(
      () => build(extra),
      (e: unknown) => e instanceof NodeConfigError && re.test(e.message),
      extra.join(' '),
    );
  }
  // Listening on every interface stays fine; so do names, and one host with a port per member.
  build(['--peers', 'n1=127.0.0.1:7101,n2=127.0.0.1:7102,n3=localhost:7103', '--client-addrs', 'n1=127.0.0.1:7001']);
});

test('timings: a broken lease inequality names the flags and the values that would do; a lease not given fits the drift bound (session 11 audit)', () => {
  const build = (extra: string[]) => buildNodeConfig(rawFromArgs([...base, ...extra], {}));
  const cases: [string[], RegExp][] = [
    [
      ['--lease-ms', '700'],
      /^--lease-ms 700 is too long for --election-timeout-ms 600 .* Use --lease-ms 588 or less, or --election-timeout-ms 715 or more$/,
    ],
    [
      ['--heartbeat-ms', '300'],
      /^--heartbeat-ms 300 is more than a third of the lease .* Use --heartbeat-ms 178 or less, or a longer lease \(--lease-ms 910 or more/,
    ],
    [
      ['--max-drift-rate', '0.1', '--lease-ms', '540'],
      /^--lease-ms 540 is too long .* at --max-drift-rate 0\.1: .* Use --lease-ms 490 or less/,
    ],
  ];
  for (const [extra, re] of cases) {
    assert.throws(
      () => build(extra),
      (e: unknown) => e instanceof NodeConfigError && re.test(e.message),
      extra.join(' '),
    );
  }
  // The boundary values the messages name are accepted.
  assert.equal(build(['--lease-ms', '588']).leaseDurationMs, 588);
  assert.equal(build(['--election-timeout-ms', '715', '--lease-ms', '700']).leaseDurationMs, 700);
  assert.equal(build(['--heartbeat-ms', '178']).heartbeatIntervalMs, 178);
  // --max-drift-rate 0.1 alone (documented as allowed) was refused over a lease nobody had set.
  const c = build(['--max-drift-rate', '0.1']);
  assert.equal(c.leaseDurationMs, 490);
  assert.ok((c.leaseDurationMs * 1.1) / 0.9 < c.electionTimeoutMinMs);
  assert.equal(build([]).leaseDurationMs, 540, 'the default drift bound keeps the profile lease');
});

test('client API limits: defaults, flags, and bad combinations refused with the setting named (issue 13)', () => {
  const c = buildNodeConfig(rawFromArgs(base, {}));
  assert.equal(c.clientLimits.maxJsonDepth, 64);
  assert.equal(c.clientLimits.maxInFlightPerConnection, 128);
  assert.equal(c.clientLimits.requestsPerSourcePerTurn, 32);
  assert.equal(c.maxPeerConnections, null); // the transport's default: 2 per member + 4, following the members
  const d = buildNodeConfig(
    rawFromArgs(
      [
        ...base,
        '--max-pending-requests',
        '40',
        '--max-json-depth',
        '8',
        '--max-connections',
        '100',
        '--headers-timeout-ms',
        '500',
        '--max-requests-per-source-per-turn',
        '4',
      ],
      {},
    ),
  );
  assert.equal(d.clientLimits.maxInFlightPerConnection, 8);
  assert.equal(d.clientLimits.maxJsonDepth, 8);
  assert.equal(d.clientLimits.maxConnectionsPerSource, 100);
  assert.equal(d.clientLimits.headersTimeoutMs, 500);
  assert.equal(d.clientLimits.requestsPerSourcePerTurn, 4);
  const cases: [string[], RegExp][] = [
    [['--max-json-depth', '1'], /--max-json-depth/],
    [
      ['--headers-timeout-ms', '9000', '--request-receive-timeout-ms', '5000'],
      /headersTimeoutMs .* exceeds requestReceiveTimeoutMs/,
    ],
    [['--max-pending-per-connection', '2000'], /maxInFlightPerConnection .* exceeds maxInFlight/],
    [['--max-connections', '10', '--max-connections-per-source', '20'], /maxConnectionsPerSource/],
    [['--max-stream-resets-per-sec', '0'], /--max-stream-resets-per-sec/],
    [['--max-concurrent-streams', '0'], /--max-concurrent-streams/],
    [['--max-requests-per-source-per-turn', '0'], /--max-requests-per-source-per-turn/],
    [['--max-peer-connections', '1'], /--max-peer-connections/],
  ];
  for (const [extra, re] of cases) {
    assert.throws(
      () => buildNodeConfig(rawFromArgs([...base, ...extra], {})),
      (e: unknown) => e instanceof NodeConfigError && re.test(e.message),
      extra.join(' '),
    );
  }
});

test("the drift bound and the member count are the core's limits, refused here with the flag named", () => {
  // Both once disagreed with src/raft/config.ts (drift < 0.2 here, ≤ 0.1 there): 0.15 passed the
  // flag check and then stopped the node in the core's validation.
  assert.equal(
    buildNodeConfig(rawFromArgs([...base, '--max-drift-rate', String(MAX_DRIFT_RATE)], {})).maxClockDriftRate,
    MAX_DRIFT_RATE,
  );
  assert.throws(
    () => buildNodeConfig(rawFromArgs([...base, '--max-drift-rate', '0.15'], {})),
    (e: unknown) =>
      e instanceof NodeConfigError && /--max-drift-rate: '0.15' must be a number in \[0, 0.1\]/.test(e.message),
  );
  const peers = (n: number): string => Array.from({ length: n }, (_, i) => `n${i + 1}=10.0.0.${i + 1}:7101`).join(',');
  const withPeers = (n: number): string[] => [...base.slice(0, -1), peers(n)];
  assert.equal(buildNodeConfig(rawFromArgs(withPeers(MAX_MEMBERS), {})).peers.size, MAX_MEMBERS);
  assert.throws(() => buildNodeConfig(rawFromArgs(withPeers(MAX_MEMBERS + 1), {})), /at most 7 are supported/);
});

test('--peer-routes: where this node dials some members, apart from their recorded addresses; never itself', () => {
  const c = buildNodeConfig(rawFromArgs([...base, '--peer-routes', 'n2=127.0.0.1:7202,n3=127.0.0.1:7203'], {}));
  assert.deepEqual(c.peerRoutes.get('n2'), { host: '127.0.0.1', port: 7202 });
  assert.deepEqual(c.peers.get('n2'), { host: '10.0.0.2', port: 7101 }, 'the member address is left as --peers says');
  assert.equal(buildNodeConfig(rawFromArgs(base, {})).peerRoutes.size, 0);
  assert.throws(
    () => buildNodeConfig(rawFromArgs([...base, '--peer-routes', 'n1=127.0.0.1:7201'], {})),
    (e: unknown) => e instanceof NodeConfigError && /--peer-routes names this member 'n1'/.test(e.message),
  );
  assert.throws(
    () => buildNodeConfig(rawFromArgs([...base, '--peer-routes', 'n2=nohost'], {})),
    (e: unknown) => e instanceof NodeConfigError && /--peer-routes \(n2\).*not HOST:PORT/.test(e.message),
  );
});

test('--max-response-bytes: 3 MiB by default (under gRPC clients’ 4 MiB); at least one key and value of the largest sizes', () => {
  assert.equal(buildNodeConfig(rawFromArgs(base, {})).clientLimits.maxResponseBytes, 3 * 1024 * 1024);
  const set = buildNodeConfig(rawFromArgs([...base, '--max-response-bytes', '2000000'], {}));
  assert.equal(set.clientLimits.maxResponseBytes, 2_000_000);
  const env = buildNodeConfig(rawFromArgs(base, { LEASEKV_MAX_RESPONSE_BYTES: '5000000' }));
  assert.equal(env.clientLimits.maxResponseBytes, 5_000_000);
  // 1 MiB values (the default) do not fit in 1 MB answers: a page of one key could not be read.
  assert.throws(
    () => buildNodeConfig(rawFromArgs([...base, '--max-response-bytes', '1000000'], {})),
    (e: unknown) =>
      e instanceof NodeConfigError &&
      /--max-response-bytes 1000000\) must be at least maxKeyBytes \+ maxValueBytes \+ 40 \(1052712\)/.test(e.message),
  );
  const small = [...base, '--max-value-bytes', '1000', '--max-response-bytes', '6000'];
  assert.equal(buildNodeConfig(rawFromArgs(small, {})).clientLimits.maxResponseBytes, 6000);
  assert.throws(
    () => buildNodeConfig(rawFromArgs([...base, '--max-response-bytes', 'lots'], {})),
    (e: unknown) =>
      e instanceof NodeConfigError && /--max-response-bytes: 'lots' must be a whole number/.test(e.message),
  );
});

test('--max-pending-response-bytes: 128 MiB by default; at least --max-response-bytes', () => {
  assert.equal(buildNodeConfig(rawFromArgs(base, {})).clientLimits.maxPendingResponseBytes, 128 * 1024 * 1024);
  const set = buildNodeConfig(rawFromArgs([...base, '--max-pending-response-bytes', '50000000'], {}));
  assert.equal(set.clientLimits.maxPendingResponseBytes, 50_000_000);
  assert.throws(
    () => buildNodeConfig(rawFromArgs([...base, '--max-pending-response-bytes', '3000000'], {})),
    (e: unknown) =>
      e instanceof NodeConfigError &&
      /--max-pending-response-bytes 3000000\) must be at least maxResponseBytes \(3145728\)/.test(e.message),
  );
});

test('--max-unsent-bytes-per-source / --max-unsent-bytes: 64 and 256 MiB by default, flags and variables, checked', () => {
  const d = buildNodeConfig(rawFromArgs(base, {})).clientLimits;
  assert.equal(d.maxUnsentBytesPerSource, 64 * 1024 * 1024);
  assert.equal(d.maxUnsentBytes, 256 * 1024 * 1024);
  const set = buildNodeConfig(
    rawFromArgs([...base, '--max-unsent-bytes-per-source', '8000000'], { LEASEKV_MAX_UNSENT_BYTES: '9000000' }),
  ).clientLimits;
  assert.equal(set.maxUnsentBytesPerSource, 8_000_000);
  assert.equal(set.maxUnsentBytes, 9_000_000);
  const refused = (args: string[], re: RegExp): void =>
    assert.throws(
      () => buildNodeConfig(rawFromArgs([...base, ...args], {})),
      (e: Error) => e instanceof NodeConfigError && re.test(e.message),
    );
  refused(['--max-unsent-bytes', '64MiB'], /--max-unsent-bytes: '64MiB' must be a whole number from 1 to/);
  refused(['--max-unsent-bytes-per-source', '0'], /--max-unsent-bytes-per-source: '0' must be a whole number/);
  // One answer of the largest size (a 3 MiB Range) must fit, or a slow reader is refused by its own answer.
  refused(
    ['--max-unsent-bytes-per-source', '1000000'],
    /--max-unsent-bytes-per-source 1000000\) must be at least the largest answer.*\(3145728\)/,
  );
  refused(
    ['--max-unsent-bytes-per-source', '300000000'],
    /maxUnsentBytes \(--max-unsent-bytes 268435456\) must be at least maxUnsentBytesPerSource \(300000000\)/,
  );
});

test('--max-ttl-keys / --max-ttl-bytes: 10000 keys and 64 MiB by default; at least one key of the largest size', () => {
  assert.deepEqual(buildNodeConfig(rawFromArgs(base, {})).ttl, { maxKeys: 10_000, maxBytes: 64 * 1024 * 1024 });
  const set = buildNodeConfig(rawFromArgs([...base, '--max-ttl-keys', '5'], { LEASEKV_MAX_TTL_BYTES: '2000000' }));
  assert.deepEqual(set.ttl, { maxKeys: 5, maxBytes: 2_000_000 });
  const refused = (args: string[], re: RegExp): void =>
    assert.throws(
      () => buildNodeConfig(rawFromArgs([...base, ...args], {})),
      (e: Error) => e instanceof NodeConfigError && re.test(e.message),
    );
  refused(['--max-ttl-keys', '0'], /--max-ttl-keys: '0' must be a whole number from 1 to 10000000/);
  refused(['--max-ttl-keys', 'many'], /--max-ttl-keys: 'many' must be a whole number/);
  refused(
    ['--max-ttl-bytes', '1000000'],
    /--max-ttl-bytes 1000000 must be at least --max-key-bytes \+ --max-value-bytes \(1052672\)/,
  );
});

test('--append-hold-ms: off (0) by default; up to the heartbeat interval; reaches the core', () => {
  assert.equal(buildNodeConfig(rawFromArgs(base, {})).appendHoldMs, 0);
  assert.equal(raftConfigFor(buildNodeConfig(rawFromArgs(base, {}))).appendHoldMs, 0);
  const set = buildNodeConfig(rawFromArgs(base, { LEASEKV_APPEND_HOLD_MS: '8' }));
  assert.equal(raftConfigFor(set).appendHoldMs, 8);
  for (const bad of ['-1', '51', 'soon'])
    assert.throws(
      () => buildNodeConfig(rawFromArgs([...base, '--append-hold-ms', bad], {})),
      (e: Error) => e instanceof NodeConfigError && /--append-hold-ms/.test(e.message),
    );
});
