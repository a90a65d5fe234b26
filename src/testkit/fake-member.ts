// A member scripted by the test: a plain node:http server on 127.0.0.1 that answers each request
// with `handle` (given the request's number, from 0), so client tests can play any answer — a
// refusal, a firehose, silence — without a cluster.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export type FakeHandler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

export interface FakeMember {
  readonly server: Server;
  /** host:port, as the client's endpoints take it. */
  readonly ep: string;
  /** Requests received so far. */
  count(): number;
  /** Drops every connection and stops listening. */
  close(): Promise<void>;
}

/**
 * Starts a scripted member. `handle` runs once the request's body is read, unless `early` is set:
 * then it runs at once (for streams answered before the request ends, like a watch).
 */
export async function fakeMember(handle: FakeHandler, opts: { early?: boolean } = {}): Promise<FakeMember> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    if (opts.early === true) handle(req, res, n++);
    else req.on('end', () => handle(req, res, n++));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    ep: `127.0.0.1:${(server.address() as { port: number }).port}`,
    count: () => n,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
