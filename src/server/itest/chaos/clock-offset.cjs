// The chaos run's `clock` fault (docs/chaos.md): a preload (`node --require`) that shifts what a
// member reads from the wall clock — Date.now() and new Date() — by the offset in ms written to
// $CHAOS_CLOCK_DIR/<its --id>, re-read every 100 ms: a jump forward or back, as NTP stepping the
// clock or an operator's `date -s` would make, without touching the machine's clock (shared).
// performance.now() and timers are left alone: they are the monotonic clock leases must use.
// CommonJS on purpose: --require preloads run in worker threads too (--import ones do not), and the
// client API and the WAL run on worker threads.
'use strict';
const { readFileSync } = require('node:fs');
const { isMainThread } = require('node:worker_threads');

if (isMainThread && process.env.CHAOS_CLOCK_DIR) {
  const at = process.argv.indexOf('--id');
  if (at > 0 && process.argv[at + 1])
    process.env.CHAOS_CLOCK_FILE = `${process.env.CHAOS_CLOCK_DIR}/${process.argv[at + 1]}`;
}
const file = process.env.CHAOS_CLOCK_FILE;
if (file) {
  let offsetMs = 0;
  const read = () => {
    try {
      offsetMs = Number(readFileSync(file, 'utf8')) || 0;
    } catch {
      offsetMs = 0;
    }
  };
  read();
  setInterval(read, 100).unref();
  const RealDate = Date;
  class ShiftedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + offsetMs);
      else super(...args);
    }
    static now() {
      return RealDate.now() + offsetMs;
    }
  }
  globalThis.Date = ShiftedDate;
}
