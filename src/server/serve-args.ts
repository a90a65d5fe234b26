// The command line of `leasekv serve` for one member, built in this one place by everything that
// starts members: `leasekv up`, the test kit's process cluster (integration and CLI tests) and the
// benchmark. The inverse of config-flags.ts: every setting must be one of its flags.
import { FLAGS } from './config-flags.ts';
import { assert } from '../util/assert.ts';

/** A setting's value as it goes on the command line. */
export type SettingValue = string | number | boolean;

export interface ServeSpec {
  /** --insecure: plaintext client port and peer links (serve refuses plaintext without it). */
  readonly insecure: boolean;
  readonly id: string;
  readonly dataDir: string;
  /** HOST:PORT to listen on for peers and for clients. */
  readonly listenPeer: string;
  readonly listenClient: string;
  /** --peers, `id=HOST:PORT,...` (memberList): bootstraps a brand-new cluster, or must agree with the data. */
  readonly peers?: string;
  /** --client-addrs, `id=HOST:PORT,...`: members' client addresses for leader hints. */
  readonly clientAddrs?: string;
  /** --join: client endpoints of current members, for a member just added. */
  readonly join?: readonly string[];
  /**
   * Any other flags, by name without the leading `--` (`'lease-ms': 450`), in order; undefined
   * values are left out. true/false go as on/off, or for a flag without a value as present/absent.
   */
  readonly settings?: Readonly<Record<string, SettingValue | undefined>>;
}

/** `id=addr,...` as --peers and --client-addrs take it. */
export function memberList(members: Iterable<readonly [string, string]>): string {
  return [...members].map(([id, addr]) => `${id}=${addr}`).join(',');
}

/** The arguments after the leasekv command: `serve --id … --data-dir … …`. */
export function serveArgs(spec: ServeSpec): string[] {
  const args = [
    'serve',
    ...(spec.insecure ? ['--insecure'] : []),
    '--id',
    spec.id,
    '--data-dir',
    spec.dataDir,
    '--listen-peer',
    spec.listenPeer,
    '--listen-client',
    spec.listenClient,
  ];
  if (spec.peers !== undefined) args.push('--peers', spec.peers);
  if (spec.clientAddrs !== undefined) args.push('--client-addrs', spec.clientAddrs);
  if (spec.join !== undefined) args.push('--join', spec.join.join(','));
  for (const [name, value] of Object.entries(spec.settings ?? {})) {
    if (value === undefined) continue;
    const flag = `--${name}`;
    const known = FLAGS[flag];
    assert(known !== undefined, `serveArgs: leasekv serve has no flag ${flag}`);
    if (known.boolean === true) {
      if (value === true) args.push(flag);
    } else args.push(flag, typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value));
  }
  return args;
}
