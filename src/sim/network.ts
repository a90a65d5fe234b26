// The simulated network between nodes: per-link latency (regions), drop, duplication, reordering,
// extra delay on chosen directed links, and symmetric/asymmetric partitions (blocked directed links).
// It only decides WHEN (and whether) a message arrives; the cluster schedules the deliveries.
import type { NodeId } from '../raft/types.ts';
import type { Prng } from './prng.ts';

export interface LinkLatency {
  readonly minUs: number;
  readonly maxUs: number;
}

export interface NetworkFaults {
  /** Probability that a message is lost. */
  readonly dropRate: number;
  /** Probability that a message is delivered twice. */
  readonly duplicateRate: number;
  /** When false, each directed link delivers in send order (FIFO). */
  readonly reorder: boolean;
}

export const NO_NETWORK_FAULTS: NetworkFaults = { dropRate: 0, duplicateRate: 0, reorder: false };

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}

export class Network {
  private blocked = new Set<string>();
  private extraDelayUs = new Map<string, number>();
  private lastDeliveryUs = new Map<string, number>();
  /** Per directed link: the instant a cut that loses what is in flight was made (see cutInFlight). */
  private cutAtUs = new Map<string, number>();
  faults: NetworkFaults = NO_NETWORK_FAULTS;

  constructor(
    private readonly rng: Prng,
    private readonly latency: (from: NodeId, to: NodeId) => LinkLatency,
  ) {}

  block(from: NodeId, to: NodeId): void {
    this.blocked.add(linkKey(from, to));
  }

  /**
   * Blocks the link AND loses what is already in flight on it, as a broken connection does: a
   * message sent before `nowUs` that would arrive after it is lost (see lostInFlight).
   */
  cutInFlight(from: NodeId, to: NodeId, nowUs: number): void {
    this.block(from, to);
    this.cutAtUs.set(linkKey(from, to), nowUs);
  }

  /** Whether a message sent at `sentUs` and arriving at `nowUs` crossed an in-flight cut of its link. */
  lostInFlight(from: NodeId, to: NodeId, sentUs: number, nowUs: number): boolean {
    const cutUs = this.cutAtUs.get(linkKey(from, to));
    return cutUs !== undefined && sentUs < cutUs && cutUs <= nowUs;
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.has(linkKey(from, to));
  }

  setExtraDelay(from: NodeId, to: NodeId, us: number): void {
    if (us <= 0) this.extraDelayUs.delete(linkKey(from, to));
    else this.extraDelayUs.set(linkKey(from, to), us);
  }

  clearDelays(): void {
    this.extraDelayUs.clear();
  }

  clearBlocks(): void {
    this.blocked.clear();
  }

  /** Heals every partition and removes every extra delay. */
  healAll(): void {
    this.blocked.clear();
    this.extraDelayUs.clear();
  }

  describePartitions(): string {
    return this.blocked.size === 0 ? 'none' : [...this.blocked].sort().join(' ');
  }

  /** The true times (µs) at which a message sent now arrives: none (lost), one, or two (duplicated). */
  plan(from: NodeId, to: NodeId, nowUs: number): number[] {
    const key = linkKey(from, to);
    if (this.blocked.has(key)) return [];
    const f = this.faults;
    if (f.dropRate > 0 && this.rng.chance(f.dropRate)) return [];
    const copies = f.duplicateRate > 0 && this.rng.chance(f.duplicateRate) ? 2 : 1;
    const out: number[] = [];
    for (let i = 0; i < copies; i++) out.push(this.arrival(key, from, to, nowUs));
    return out;
  }

  private arrival(key: string, from: NodeId, to: NodeId, nowUs: number): number {
    const lat = this.latency(from, to);
    let at = nowUs + this.rng.int(lat.minUs, lat.maxUs) + (this.extraDelayUs.get(key) ?? 0);
    if (!this.faults.reorder) {
      at = Math.max(at, this.lastDeliveryUs.get(key) ?? 0);
      this.lastDeliveryUs.set(key, at);
    }
    return at;
  }
}
