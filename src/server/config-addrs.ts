// Checks on the addresses other members and clients dial (--peers, --client-addrs, --join, and
// `member add`'s --peer-addr/--client-addr), as opposed to the addresses this node listens on.
// Found by the session 11 operator audit (docs/benchmarks.md): each of these mistakes was accepted
// and surfaced only later, as a member that never connected, with a log line far from the cause.
import { hostname } from 'node:os';
import { NodeConfigError } from './config-flags.ts';
import type { ClientTlsMaterial, FrontEndTls } from './api/front.ts';

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

/** --allowed-hosts: names (a leading dot: any name under it) or `*`. */
export function allowedHostsSetting(raw: string | undefined): string[] {
  const names = (raw ?? '')
    .split(',')
    .map((n) => n.trim().toLowerCase())
    .filter((n) => n !== '');
  for (const n of names)
    if (n !== '*' && !/^\.?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/.test(n))
      throw new NodeConfigError(
        `--allowed-hosts: '${n}' is not a DNS name (NAME, .DOMAIN for any name under it, or * for any; IP addresses are always allowed)`,
      );
  return names;
}

/**
 * The DNS names a plaintext client port answers to (api/host-check.ts): --allowed-hosts, and every
 * name in the cluster's configuration as this member knows it at start (its own and the other
 * members' addresses: the operator's names) and this machine's host name. IP addresses and
 * localhost are always answered and need no entry.
 */
export function ownHostNames(cfg: {
  readonly allowedHosts: readonly string[];
  readonly listenClient: Addr;
  readonly listenPeer: Addr;
  readonly peers: ReadonlyMap<string, Addr>;
  readonly clientAddrs: ReadonlyMap<string, Addr>;
  readonly peerRoutes: ReadonlyMap<string, Addr>;
  readonly join: readonly Addr[];
}): string[] {
  const names = new Set<string>(cfg.allowedHosts);
  const addrs = [cfg.listenClient, cfg.listenPeer, ...cfg.peers.values(), ...cfg.clientAddrs.values()];
  for (const a of [...addrs, ...cfg.peerRoutes.values(), ...cfg.join]) names.add(a.host.toLowerCase());
  names.add(hostname().toLowerCase());
  return [...names];
}

/**
 * The client port's TLS, or, plaintext (--insecure), the names its Host must carry (DNS rebinding:
 * api/host-check.ts; with TLS the browser refuses the node's certificate for an attacker's name)
 * and whether api/framing.ts reads its HTTP/1.1 connections first (--http1-framing; plaintext only).
 */
export function clientPortSecurity(
  cfg: Parameters<typeof ownHostNames>[0] & { readonly http1Framing: boolean },
  client: () => ClientTlsMaterial | null,
): { tls: FrontEndTls } | { allowedHosts: string[]; http1Framing: boolean } {
  return client() === null
    ? { allowedHosts: ownHostNames(cfg), http1Framing: cfg.http1Framing }
    : { tls: { current: () => client() as ClientTlsMaterial } };
}
