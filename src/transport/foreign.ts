// Another protocol where leasekv's peer protocol was expected. Almost always a port mix-up: a
// member's client port given as its peer address (--peers, `member add --peer-addr`), or a client
// (curl, the CLI, the client library) pointed at a peer port. The frame decoder alone would report
// a frame of ~1.2 GB ("HTTP" or "GET " read as a length prefix), which names neither cause
// (session 11 operator audit, docs/benchmarks.md).
import { Buffer } from 'node:buffer';

const HTTP_REQUEST = /^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH|CONNECT|TRACE|PRI) /;

function head(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 8)).toString('latin1');
}

/** The first bytes a client sent to a peer port look like an HTTP request (HTTP/1.x or h2's preface). */
export function isHttpRequest(first: Uint8Array): boolean {
  return HTTP_REQUEST.test(head(first));
}

export const HTTP_ON_PEER_PORT =
  'an HTTP request on the peer port (--listen-peer): clients (the CLI, curl, the client library) use the client port (--listen-client)';

const HTTP_BODY = JSON.stringify({ code: 'unavailable', message: `this is a leasekv peer port: ${HTTP_ON_PEER_PORT}` });

/**
 * What an HTTP client that dialled a peer port reads, instead of a binary refusal frame: a Connect
 * error (as the client port answers) with code `unavailable`, so that the client library and the
 * CLI go on to their other endpoints — one peer port among client ports still works — and say
 * this if none answers.
 */
export const HTTP_ON_PEER_PORT_ANSWER = Buffer.from(
  'HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\n' +
    `content-length: ${Buffer.byteLength(HTTP_BODY)}\r\n\r\n${HTTP_BODY}`,
  'latin1',
);

/** Why a dialled member's stream did not decode: a port that answered HTTP is named as such. */
export function badFrameReason(chunk: Uint8Array, e: Error, peerId: string, addr: string): string {
  if (!head(chunk).startsWith('HTTP/')) return `bad frame from peer: ${e.message}`;
  return `node ${peerId}'s address ${addr} answered HTTP: it is a client port (--listen-client), not a peer port (--listen-peer); give the member's peer address (--peers of a new cluster, \`member add --peer-addr\`)`;
}
