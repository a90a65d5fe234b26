// Worker-thread bootstrap (plain JS, so Node can start it without a loader): registers tsx in this
// thread, then loads the TypeScript worker. Node 20 does not apply the parent's loader hooks, nor
// `--import` in a worker's execArgv, to the worker's entry module.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
