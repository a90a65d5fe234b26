// The floor: a bare node:http server answering the same JSON as leasekv's Get/Put from a Map. What a
// request costs with no RPC framework and no consensus. Prints its port on stdout.
import { createServer } from 'node:http';

const data = new Map<string, string>();
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let body: { key?: string; value?: string };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { key?: string; value?: string };
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"code":"invalid_argument"}');
      return;
    }
    let out: string;
    if (req.url === '/leasekv.v1.KV/Put') {
      data.set(body.key ?? '', body.value ?? '');
      out = '{"index":"1"}';
    } else {
      const v = data.get(body.key ?? '');
      out = JSON.stringify({
        found: v !== undefined,
        value: v ?? '',
        index: '1',
        readMode: 'READ_MODE_LEASE',
        staleByMs: 0,
      });
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) }).end(out);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const a = server.address();
  console.log(String(typeof a === 'object' && a !== null ? a.port : 0));
});
process.on('SIGTERM', () => process.exit(0));
