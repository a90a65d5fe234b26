// Separate "hosts" on one machine: one Linux network namespace per node, each with its own address
// on a private 10.77.0.0/24 network. A switch namespace holds a bridge; every host namespace is
// wired to it by a veth pair created directly between the two namespaces, so the root namespace
// (this machine's real network) gets no interface, address or route. Needs root and `ip netns`.
import { execFileSync } from 'node:child_process';
import { assert } from '../../util/assert.ts';

const SUBNET_PREFIX = '10.77.0';
const IP_TIMEOUT_MS = 10_000;

function ip(args: readonly string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', timeout: IP_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Why this machine cannot run the namespace test, or undefined if it can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return 'creating network namespaces needs root (uid 0)';
  const probe = `lkvprobe${process.pid}`;
  try {
    ip(['netns', 'add', probe]);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    return `'ip netns add' is not permitted here: ${(err.stderr ?? err.message).trim()}`;
  }
  try {
    ip(['netns', 'del', probe]);
  } catch {
    // best effort
  }
  return undefined;
}

export interface Host {
  readonly id: string;
  readonly ns: string;
  readonly addr: string;
}

export class NetnsLab {
  private readonly created: string[] = [];
  private readonly onExit = (): void => this.destroy();
  readonly switchNs: string;
  readonly hosts: readonly Host[];

  /** `ids` become hosts 10.77.0.11, .12, ... (include one for the test's forwarder). */
  constructor(ids: readonly string[]) {
    const prefix = `lkv${process.pid}`;
    this.switchNs = `${prefix}-sw`;
    this.hosts = ids.map((id, i) => ({ id, ns: `${prefix}-${id}`, addr: `${SUBNET_PREFIX}.${11 + i}` }));
    process.on('exit', this.onExit);
  }

  /** Creates the switch and every host. Throws (after cleaning up) if any `ip` command fails. */
  build(): void {
    try {
      this.addNs(this.switchNs);
      ip(['-n', this.switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
      ip(['-n', this.switchNs, 'link', 'set', 'br0', 'up']);
      this.hosts.forEach((h, i) => {
        this.addNs(h.ns);
        const port = `p${i}`;
        ip(['-n', h.ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', this.switchNs]);
        ip(['-n', this.switchNs, 'link', 'set', port, 'master', 'br0']);
        ip(['-n', this.switchNs, 'link', 'set', port, 'up']);
        ip(['-n', h.ns, 'addr', 'add', `${h.addr}/24`, 'dev', 'eth0']);
        ip(['-n', h.ns, 'link', 'set', 'eth0', 'up']);
        ip(['-n', h.ns, 'link', 'set', 'lo', 'up']);
      });
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  private addNs(name: string): void {
    ip(['netns', 'add', name]);
    this.created.push(name);
  }

  host(id: string): Host {
    const h = this.hosts.find((x) => x.id === id);
    assert(h !== undefined, `no host ${id}`);
    return h;
  }

  /** Cuts a host off the network (its only link goes down), or reconnects it. */
  setLink(id: string, up: boolean): void {
    ip(['-n', this.host(id).ns, 'link', 'set', 'eth0', up ? 'up' : 'down']);
  }

  /** The command line that runs `argv` inside a host's namespace. */
  execIn(id: string, argv: readonly string[]): { command: string; args: string[] } {
    return { command: 'ip', args: ['netns', 'exec', this.host(id).ns, ...argv] };
  }

  /** Deletes every namespace this lab created (their veths go with them). Safe to call twice. */
  destroy(): void {
    process.off('exit', this.onExit);
    while (this.created.length > 0) {
      const ns = this.created.pop() as string;
      try {
        ip(['netns', 'del', ns]);
      } catch {
        // already gone
      }
    }
  }

  /** Namespaces this lab left behind (for the test's final check); empty after destroy(). */
  leftovers(): string[] {
    const listed = ip(['netns', 'list']);
    return [this.switchNs, ...this.hosts.map((h) => h.ns)].filter((ns) =>
      listed.split('\n').some((l) => l.split(' ')[0] === ns),
    );
  }
}
