// Server-sent events read by hand for tests (GET /v1/watch): the blocks exactly as the server sent
// them, so tests can assert on `id:` / `event:` / `data:` lines (EventSource would hide them).
import { request } from 'node:http';

/**
 * GET `path` on 127.0.0.1:`port` and collect the SSE blocks (separated by a blank line) until
 * `done(blocks)` is true after a block, or the stream ends; the status with them. A refusal (a
 * JSON body, no blank line) comes back as one block.
 */
export function readSse(
  port: number,
  path: string,
  done: (blocks: readonly string[]) => boolean,
  headers: Record<string, string> = {},
): Promise<{ status: number; blocks: string[] }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let buf = '';
      const blocks: string[] = [];
      const finish = (): void => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, blocks });
      };
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          blocks.push(buf.slice(0, i));
          buf = buf.slice(i + 2);
          if (done(blocks)) return finish();
        }
      });
      res.on('end', () => {
        if (buf !== '') blocks.push(buf);
        finish();
      });
    });
    req.on('error', reject);
    req.end();
  });
}
