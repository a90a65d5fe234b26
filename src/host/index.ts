// The node's host (docs/design.md, "The drive loop"): one drive loop shared by the server and the simulator.
export { HostDrive } from './drive.ts';
export type { HostParts } from './drive.ts';
export { HostNode } from './requests.ts';
export type { Proposed } from './requests.ts';
export * from './types.ts';
