// Backend values ↔ API (proto) values. Enum spellings live here only.
import type {
  Consistency as BackendConsistency,
  ReadMode as BackendReadMode,
  Role as BackendRole,
} from '../backend.ts';
import { Consistency, ReadMode, Role } from '../../gen/leasekv/v1/kv_pb.ts';

export function consistencyFromApi(c: Consistency): BackendConsistency {
  switch (c) {
    case Consistency.LINEARIZABLE:
      return 'linearizable';
    case Consistency.STALE:
      return 'stale';
    default:
      // Open enums: a number the proto does not define.
      throw new RangeError(`unknown consistency ${String(c)}`);
  }
}

export function readModeToApi(m: BackendReadMode): ReadMode {
  if (m === 'lease') return ReadMode.LEASE;
  if (m === 'readindex') return ReadMode.READ_INDEX;
  return ReadMode.STALE;
}

/** JSON names of ReadMode, as protobuf JSON writes them (the fast path writes JSON itself). */
export const READ_MODE_JSON: Readonly<Record<BackendReadMode, string>> = {
  lease: 'READ_MODE_LEASE',
  readindex: 'READ_MODE_READ_INDEX',
  stale: 'READ_MODE_STALE',
};

export function roleToApi(r: BackendRole): Role {
  if (r === 'leader') return Role.LEADER;
  if (r === 'follower') return Role.FOLLOWER;
  return Role.CANDIDATE;
}

const U32_MAX = 0xffff_ffff;
/** Durations travel as uint32 ms; clamp (49 days of staleness reads as "very stale"), never wrap. */
export function u32Ms(ms: number): number {
  if (!Number.isFinite(ms)) return ms > 0 ? U32_MAX : 0;
  return Math.min(U32_MAX, Math.max(0, Math.round(ms)));
}
