// A stand-in for `leasekv serve` in up.test.ts: serves the client API over a fake backend on
// --listen-client, records its start in --data-dir, and stops on SIGTERM. Not a node.
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FakeBackend } from '../../server/api/fake-backend.ts';
import { startApiServer } from '../../server/api/server.ts';

const { values } = parseArgs({
  args: process.argv.slice(3), // argv[2] is "serve"
  options: {
    id: { type: 'string' },
    'data-dir': { type: 'string' },
    'listen-peer': { type: 'string' },
    'listen-client': { type: 'string' },
    peers: { type: 'string' },
    'client-addrs': { type: 'string' },
    'peer-routes': { type: 'string' },
    insecure: { type: 'boolean' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'tls-ca': { type: 'string' },
    'peer-tls-cert': { type: 'string' },
    'peer-tls-key': { type: 'string' },
    'peer-tls-ca': { type: 'string' },
  },
  strict: true,
});
const id = values.id ?? '?';
const [host, port] = (values['listen-client'] ?? '').split(':');
appendFileSync(join(values['data-dir'] ?? '.', 'starts'), `${id}\n`);
const server = await startApiServer({
  host: host ?? '127.0.0.1',
  port: Number(port),
  backend: new FakeBackend({ id }),
  // TLS like a node under `up` (its certificates from the local CA).
  ...(values['tls-cert'] === undefined
    ? {}
    : {
        tls: {
          current: (() => {
            const m = {
              cert: readFileSync(values['tls-cert']),
              key: readFileSync(values['tls-key'] ?? ''),
              ca: values['tls-ca'] === undefined ? null : readFileSync(values['tls-ca']),
            };
            return () => m;
          })(),
        },
      }),
});
// The handler before the line `up` waits for: on a loaded machine this process can be descheduled
// between the two, and a SIGTERM sent on seeing the line would then find no handler.
process.on('SIGTERM', () => {
  console.log(`fake node ${id} stopping`);
  void server.close().then(() => process.exit(0));
});
console.log(
  `fake node ${id} serving on ${values['listen-client']} peers ${values.peers} routes ${values['peer-routes']}`,
);
