// One process hosting the delay proxies of a benchmark cluster, so that the delays do not share an
// event loop with the load generator. argv[2]: JSON [{ listenPort, targetPort, delayMs }].
// Prints "ready" when every proxy listens; exits on SIGTERM.
import { startProxy } from '../transport/proxy.ts';

interface Spec {
  readonly listenPort: number;
  readonly targetPort: number;
  readonly delayMs: number;
}

const specs = JSON.parse(process.argv[2] ?? '[]') as Spec[];
const proxies = await Promise.all(
  specs.map((s) =>
    startProxy({
      listenHost: '127.0.0.1',
      listenPort: s.listenPort,
      targetHost: '127.0.0.1',
      targetPort: s.targetPort,
      delayMs: s.delayMs,
    }),
  ),
);
console.log('ready');
const stop = (): void => void Promise.all(proxies.map((p) => p.close())).then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
