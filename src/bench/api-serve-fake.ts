// A client API server over the in-memory fake backend, for src/bench/api-paths.ts (a separate process
// so that client and server do not share one event loop). Prints the port on stdout.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { FakeBackend } from '../server/api/fake-backend.ts';
import { startApiServer } from '../server/api/server.ts';

const fastPath = process.argv[2] !== 'connect';
const backend = new FakeBackend();
for (let i = 0; i < 1000; i++) backend.data.set(`key${i}`, 'v'.repeat(100));
const server = await startApiServer({ host: '127.0.0.1', port: 0, backend, fastPath });
console.log(String(server.port));
// The bench asks for CPU time over IPC: server CPU per request holds up even on a busy machine.
// api-abuse.ts asks for the event loop's longest stall since its last question ('lag').
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
process.on('message', (m) => {
  if (m !== 'lag') return void process.send?.(process.cpuUsage());
  process.send?.({ maxLagMs: lag.max / 1e6 });
  lag.reset();
});
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
