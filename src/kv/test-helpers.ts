// Test-only helpers for the state machine's tests (not imported by production code).
import { EntryType } from '../raft/types.ts';
import { encodeCommand } from './command.ts';
import type { KvStateMachine } from './machine.ts';

/** Applies a put of `key` = `value` as the next entry (term 1). */
export function put(m: KvStateMachine, key: string, value: string): void {
  m.apply({
    index: m.appliedIndex + 1,
    term: 1,
    type: EntryType.Normal,
    data: encodeCommand({ op: 'put', key, value }),
  });
}
