// leasekv/client — the TypeScript client library (package export "leasekv/client").
export { LeasekvClient, type LeasekvClientOptions, type BackoffOptions, type ClusterMethod } from './client.ts';
export { EndpointError, endpointScheme, normalizeEndpoint } from './endpoint.ts';
export type { ClientTlsOptions } from './transport.ts';
export {
  LeasekvError,
  NotLeaderError,
  UnavailableError,
  CertificateError,
  DeadlineExceededError,
  InvalidArgumentError,
  ResourceExhaustedError,
  AnswerTooLargeError,
  SessionExpiredError,
  CompactedError,
  ChangeRefusedError,
  type ErrorCode,
} from './errors.ts';
export type * from './types.ts';
export type { WatchOptions, WatchEvent, WatchResponse } from './watch.ts';
export { lock, campaign, leader, type LockOptions, type LockHandle } from './recipes.ts';
