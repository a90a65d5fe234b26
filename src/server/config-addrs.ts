// Checks on the addresses other members and clients dial (--peers, --client-addrs, --join, and
// `member add`'s --peer-addr/--client-addr), as opposed to the addresses this node listens on.
// Found by the session 11 operator audit (docs/benchmarks.md): each of these mistakes was accepted
// and surfaced only later, as a member that never connected, with a log line far from the cause.
import { NodeConfigError } from './config-flags.ts';

interface Addr {
  readonly host: string;
  readonly port: number;
}

function show(a: Addr): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** 0.0.0.0, ::, 0:0::0 …: "every interface" to a listener, and nothing (or this very host) to a dialler. */
function unspecified(host: string): boolean {
  return /^0+(\.0+){3}$/.test(host) || (host.includes(':') && /^[0:]+$/.test(host));
}

/**
 * Refuses an address that cannot be dialled from another host: an unspecified host (copied from a
 * --listen-* flag; on Linux a dial to 0.0.0.0 reaches the dialler itself, so a single-host test
 * passes and the cluster breaks when spread out) or port 0 (an ephemeral listen port).
 */
export function refuseUndialable(a: Addr, what: string): void {
  if (unspecified(a.host)) {
    throw new NodeConfigError(
      `${what}: ${show(a)} listens on every interface but cannot be dialled: give an address another host can dial (an IP address or host name, e.g. 10.0.0.1:${a.port})`,
    );
  }
  if (a.port === 0) throw new NodeConfigError(`${what}: ${show(a)} has port 0, which cannot be dialled`);
}

const key = (a: Addr): string => `${a.host.toLowerCase()}:${a.port}`;

/**
 * Refuses two members at one address, and a peer address that is also a client address (the
 * client port was given where the peer port belongs, or the reverse): one of the members would
 * never be reached, and the dial would reach the wrong member or the wrong protocol.
 */
export function refuseSharedAddresses(
  peers: ReadonlyMap<string, Addr>,
  clients: ReadonlyMap<string, Addr>,
  what: { peers: string; clients: string },
): void {
  const seen = new Map<string, { desc: string; kind: string }>();
  for (const [kind, list, flag] of [
    ['peer', peers, what.peers],
    ['client', clients, what.clients],
  ] as const) {
    for (const [id, a] of list) {
      const other = seen.get(key(a));
      if (other === undefined) {
        seen.set(key(a), { desc: `${id}'s ${kind} address in ${flag}`, kind });
        continue;
      }
      const fix =
        other.kind === kind
          ? 'each member needs its own address'
          : 'a member has a peer port (--listen-peer) and a client port (--listen-client), never one for both';
      throw new NodeConfigError(`${flag} (${id}): ${show(a)} is also ${other.desc}: ${fix}`);
    }
  }
}

/** The peer and client listeners on one port would fail at the second listen with a bare EADDRINUSE. */
export function refuseSharedPort(peer: Addr, client: Addr): void {
  const wild = (h: string): boolean => h === '0.0.0.0' || h === '::';
  if (peer.port === 0 || peer.port !== client.port) return;
  if (peer.host !== client.host && !wild(peer.host) && !wild(client.host)) return;
  throw new NodeConfigError(
    `--listen-peer ${show(peer)} and --listen-client ${show(client)} share a port: give the peer listener and the client API a port each`,
  );
}
