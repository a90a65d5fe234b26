// Free loopback ports for the tests and the benchmark, reserved across processes. A port is only
// free until someone binds it, and a test's node binds its ports seconds after they were picked (a
// tsx start on a loaded machine) — and a killed node's ports stay unbound until the test restarts
// it. Any other test process on the machine (the runner's other file, other checkouts' runs) that
// picked ports the same way could take one in between: EADDRINUSE, seen in itest/failover under
// load. So every port handed out is also reserved in a folder all these processes share: a file
// named after the port, holding the owner's pid, made with O_EXCL. Other processes skip reserved
// ports (they do not even probe them); the owner drops its reservations at exit or when it says it
// is done with them (a closed cluster); a reservation whose owner died is taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assert } from '../util/assert.ts';

/** Where the reservations live (one file per port); LEASEKV_TEST_PORTS_DIR moves it (the tests of this file). */
const RESERVE_DIR = process.env['LEASEKV_TEST_PORTS_DIR'] ?? join(tmpdir(), 'leasekv-test-ports');

// Below Linux's default ephemeral range (net.ipv4.ip_local_port_range 32768-60999): a port the kernel
// hands out for listen(0) is also where it puts the source port of outgoing connections, so a node
// dialling its peers could take a port picked for a node not yet started.
const PORT_LOW = 12000;
const PORT_HIGH = 32000;
/** Reservations one process holds at most; the oldest are dropped first (bounded files in the folder). */
const MAX_HELD = 4000;

/** The ports this process reserved, oldest first. */
const held = new Set<number>();
let exitHook = false;

export interface PortRange {
  /** First port drawn (default 12000). */
  readonly low?: number;
  /** One past the last port drawn (default 32000). */
  readonly high?: number;
}

function ownerAlive(path: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(path, 'utf8'));
  } catch {
    return false; // gone meanwhile
  }
  // An empty file: its owner is between creating and writing it (taken as alive: skip the port).
  if (pid === 0) return true;
  if (!Number.isInteger(pid) || pid < 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reserves `port` for this process: false if a live process holds it. */
function reserve(port: number): boolean {
  if (held.has(port)) return false; // handed out already: the caller may not have bound it yet
  const path = join(RESERVE_DIR, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      held.add(port);
      if (held.size > MAX_HELD) release([held.values().next().value as number]);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (ownerAlive(path)) return false;
    rmSync(path, { force: true }); // its owner died: take it over
  }
  return false;
}

/** Drops this process's reservations of `ports` (their users are gone: a closed cluster). */
export function release(ports: Iterable<number>): void {
  for (const port of ports) {
    if (!held.delete(port)) continue;
    rmSync(join(RESERVE_DIR, String(port)), { force: true });
  }
}

function probe(port: number, host: string): Promise<Server | null> {
  const s = createServer();
  return new Promise((resolve) => {
    s.once('error', () => resolve(null));
    s.listen(port, host, () => resolve(s));
  });
}

/**
 * `n` distinct ports, free on `host` a moment ago and reserved for this process (see above): each is
 * drawn at random from the range, skipped if reserved by a live process, else reserved and bound
 * (all at once, so they are distinct), then released for the caller to take.
 */
export async function freePorts(n: number, host = '127.0.0.1', range: PortRange = {}): Promise<number[]> {
  const low = range.low ?? PORT_LOW;
  const high = range.high ?? PORT_HIGH;
  assert(n > 0 && n <= 1000, `freePorts: n out of range (${n})`);
  assert(
    Number.isInteger(low) && Number.isInteger(high) && 0 < low && low < high && high <= 65536,
    'freePorts: bad range',
  );
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => release([...held]));
  }
  mkdirSync(RESERVE_DIR, { recursive: true });
  const servers: Server[] = [];
  const ports: number[] = [];
  try {
    for (let attempts = 0; ports.length < n; attempts++) {
      if (attempts > 200 + n * 20) throw new Error(`no ${n} free ports found on ${host} in ${low}-${high - 1}`);
      const port = low + Math.floor(Math.random() * (high - low));
      if (ports.includes(port) || !reserve(port)) continue;
      const s = await probe(port, host);
      if (s === null) {
        release([port]); // bound by something else: leave it
        continue;
      }
      servers.push(s);
      ports.push(port);
    }
    return ports;
  } catch (e) {
    release(ports);
    throw e;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/**
 * A base port B such that B + o is free on `host` and reserved for this process for every o in
 * `offsets` (as freePorts; B + o stays in the range): for a command that takes one --base-port and
 * lays its ports out from it (`leasekv up`). Release them with release(offsets.map(o => B + o)).
 */
export async function freeBlock(
  offsets: readonly number[],
  host = '127.0.0.1',
  range: PortRange = {},
): Promise<number> {
  const low = (range.low ?? PORT_LOW) - Math.min(...offsets);
  const high = (range.high ?? PORT_HIGH) - Math.max(...offsets);
  assert(offsets.length > 0 && offsets.length <= 1000 && low < high, 'freeBlock: bad offsets or range');
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => release([...held]));
  }
  mkdirSync(RESERVE_DIR, { recursive: true });
  for (let attempts = 0; attempts < 200; attempts++) {
    const base = low + Math.floor(Math.random() * (high - low));
    const ports: number[] = [];
    const servers: Server[] = [];
    let ok = true;
    for (const o of offsets) {
      if (!reserve(base + o)) {
        ok = false;
        break;
      }
      ports.push(base + o);
      const s = await probe(base + o, host);
      if (s === null) {
        ok = false;
        break;
      }
      servers.push(s);
    }
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    if (ok) return base;
    release(ports);
  }
  throw new Error(`no free block of ${offsets.length} ports found on ${host}`);
}
