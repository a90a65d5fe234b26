// The kv layer's public surface: the replicated state machine, its commands and results.
export { KvStateMachine, SnapshotDecodeError, DEFAULT_KV_CONFIG, type KvConfig } from './machine.ts';
export { encodeCommand, decodeCommand, CommandDecodeError, type Command, type Session } from './command.ts';
export type { ApplyResult } from './result.ts';
export { DEFAULT_SESSION_CONFIG, validateSessionConfig, type SessionConfig } from './sessions.ts';
