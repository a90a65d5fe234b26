// Per-node clocks. Each node reads a monotonic clock that runs at its own constant rate (within
// ±maxClockDriftRate of true time) from an arbitrary offset; clocks are never synchronized.
// The simulator keeps true time in integer microseconds; nodes see milliseconds (fractional).

export class NodeClock {
  /**
   * @param rate local ms per true ms, in [1 - drift, 1 + drift]
   * @param offsetMs local time when true time is 0 (arbitrary: only differences are meaningful)
   */
  constructor(
    public rate: number,
    public offsetMs: number,
  ) {
    if (!(rate > 0)) throw new Error(`NodeClock: rate must be > 0, got ${rate}`);
  }

  /** From true time `trueUs` on, run at `rate` (continuous, so still monotonic). */
  setRate(trueUs: number, rate: number): void {
    if (!(rate > 0)) throw new Error(`NodeClock: rate must be > 0, got ${rate}`);
    const local = this.localMs(trueUs);
    this.rate = rate;
    this.offsetMs = local - (trueUs / 1000) * rate;
  }

  /** The node's local monotonic time at true time `trueUs`. */
  localMs(trueUs: number): number {
    return this.offsetMs + (trueUs / 1000) * this.rate;
  }

  /** The earliest true time (valid for times after the last rate change) (µs, integer) at which the local clock reads at least `localMs`. */
  trueUsAt(localMs: number): number {
    const us = Math.ceil(((localMs - this.offsetMs) / this.rate) * 1000);
    // Guard against floating-point rounding leaving the local clock a hair short.
    return this.localMs(us) >= localMs ? us : us + 1;
  }
}
