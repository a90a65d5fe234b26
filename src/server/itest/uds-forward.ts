// A forwarder from unix sockets to TCP addresses, for the network-namespace test. It runs inside
// the test's client namespace (`ip netns exec NS node --import tsx uds-forward.ts DIR id=HOST:PORT
// ...`); the test process, in the root namespace, connects to DIR/<id>.sock — unix sockets live in
// the file system, which namespaces share — and its bytes travel over the namespace's own network
// to HOST:PORT. Nothing is added to the root namespace's network.
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rmSync } from 'node:fs';

export function socketPathFor(dir: string, id: string): string {
  return join(dir, `${id}.sock`);
}

function main(argv: readonly string[]): void {
  const [dir, ...targets] = argv;
  if (dir === undefined || targets.length === 0) throw new Error('usage: uds-forward.ts DIR id=HOST:PORT ...');
  for (const t of targets) {
    const m = /^([^=]+)=(.+):(\d+)$/.exec(t);
    if (m === null) throw new Error(`bad target ${t}`);
    const [, id, host, port] = m as unknown as [string, string, string, string];
    const path = socketPathFor(dir, id);
    rmSync(path, { force: true });
    createServer((client) => {
      const upstream = createConnection({ host, port: Number(port) });
      upstream.setTimeout(30_000, () => upstream.destroy());
      client.pipe(upstream).pipe(client);
      const cut = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', cut);
      upstream.on('error', cut);
      client.on('close', cut);
      upstream.on('close', cut);
    }).listen(path, () => console.log(`forwarding ${path} -> ${host}:${port}`));
  }
  process.on('SIGTERM', () => process.exit(0));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main(process.argv.slice(2));
