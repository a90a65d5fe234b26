// Checks on a JSON request body that run BEFORE JSON.parse (issue 13: "limits before work").
//
// JSON.parse of a few MB of `[[[[…` builds millions of nested arrays and holds the event loop for
// seconds (the lease-keeping timers with it); a single linear byte scan that counts nesting depth
// costs a few ms for the largest body we accept and refuses such a body first. Bytes that are not
// UTF-8 are refused too: decoded leniently they become U+FFFD, so two different keys would collide.
import { isUtf8 } from 'node:buffer';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** A JSON body refused before parsing; the message is for the client (answered as invalid_argument). */
export class JsonBodyError extends Error {
  override readonly name = 'JsonBodyError';
}

/**
 * Throws JsonBodyError if `bytes` are not UTF-8 or nest deeper than `maxDepth`. Linear in the body
 * and allocation-free. Does not validate the JSON otherwise: JSON.parse does that (on a body now
 * known to be shallow). Returns how many member names the top-level object has (counted as written,
 * duplicates included): fewer keys after JSON.parse means a duplicate (see findDuplicateKey).
 */
export function scanJsonBody(bytes: Uint8Array, maxDepth: number): number {
  if (!isUtf8(bytes)) throw new JsonBodyError('request body is not valid UTF-8');
  let depth = 0;
  let topObject = false;
  let expectKey = false;
  let topKeys = 0;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === QUOTE) {
      for (i++; i < n; i++) {
        const c = bytes[i]!;
        if (c === BACKSLASH) i++;
        else if (c === QUOTE) break;
      }
      if (expectKey && depth === 1 && topObject) topKeys++;
      expectKey = false;
    } else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
      if (++depth > maxDepth) throw new JsonBodyError(`JSON nesting is deeper than the limit of ${maxDepth} levels`);
      expectKey = b === OPEN_OBJECT;
      if (depth === 1) topObject = expectKey;
    } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) {
      if (depth > 0) depth--;
      expectKey = false;
    } else if (b === COMMA) {
      expectKey = depth === 1 && topObject;
    } else if (b === COLON) {
      expectKey = false;
    }
  }
  return topKeys;
}

/**
 * The first member name of the top-level object that appears twice (escapes decoded, so that
 * "k\u0065y" and "key" collide, as protobuf-es's fromJsonString sees them), or undefined. Only
 * called when the key counts say there is one: it allocates.
 */
export function findDuplicateKey(text: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const open = i;
      let escaped = false;
      for (i++; i < text.length; i++) {
        if (text[i] === '\\') {
          escaped = true;
          i++;
        } else if (text[i] === '"') break;
      }
      if (expectKey && depth === 1) {
        const raw = text.slice(open, i + 1);
        let name: string;
        try {
          name = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        } catch {
          continue;
        }
        if (seen.has(name)) return name;
        seen.add(name);
      }
      expectKey = false;
    } else if (c === '{' || c === '[') {
      depth++;
      expectKey = c === '{' && depth === 1;
    } else if (c === '}' || c === ']') {
      depth--;
      expectKey = false;
    } else if (c === ',') {
      expectKey = depth === 1;
    } else if (c === ':') {
      expectKey = false;
    }
  }
  return undefined;
}

/**
 * A TextDecoder stand-in for Connect's JSON serialization (its `jsonOptions.textDecoder`): every JSON
 * request Connect parses — Connect unary and streaming, gRPC+JSON, gRPC-Web+JSON, after
 * decompression — is scanned first. Connect answers what it throws as invalid_argument.
 */
export function guardedJsonDecoder(maxDepth: number): { decode(input?: Uint8Array): string } {
  return {
    decode(input?: Uint8Array): string {
      if (input === undefined) return '';
      scanJsonBody(input, maxDepth);
      return utf8Text(input);
    },
  };
}

/** The text of UTF-8 bytes without a leading byte-order mark (as TextDecoder gives it by default). */
export function utf8Text(bytes: Uint8Array): string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bom = b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf;
  return b.toString('utf8', bom ? 3 : 0);
}
