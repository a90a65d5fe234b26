// The on/off settings of `leasekv serve` (--lease-reads, --api-thread, --http1-framing), checked
// once when the config is built (config.ts).
import { NodeConfigError } from './config-flags.ts';

/** An on/off setting: `dflt` when not given, else refused unless on or off, naming the flag. */
export function onOffSetting(raw: string | undefined, name: string, dflt: 'on' | 'off' = 'on'): boolean {
  const v = raw ?? dflt;
  if (v !== 'on' && v !== 'off') throw new NodeConfigError(`${name} must be on or off, not '${v}'`);
  return v === 'on';
}
