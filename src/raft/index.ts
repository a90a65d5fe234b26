// The consensus core's export surface. Hosts (server, simulator) need nothing else.
export { RaftNode } from './node.ts';
export type { ProposeResult, RaftNodeOptions, RaftStatus } from './node.ts';
export { ConfigError, defaultRaftConfig, validateRaftConfig } from './config.ts';
export type { RaftConfig, RaftConfigInput } from './config.ts';
export { AssertionError } from '../util/assert.ts';
export { ConfDecodeError, checkConfState, decodeConfChange, decodeConfEntry, encodeConfChange } from './confchange.ts';
export type { ConfEntry } from './confchange.ts';
export type { ConfChangeRefusal, ConfChangeResult } from './membership.ts';
export * from './types.ts';
