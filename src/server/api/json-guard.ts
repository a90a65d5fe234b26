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

export interface JsonScanOptions {
  /** Deepest nesting of arrays and objects accepted (a top-level object is depth 1). */
  readonly maxDepth: number;
  /**
   * When set, also refuse an object with the same member name twice, with the message protobuf-es's
   * fromJsonString gives (JSON.parse would silently keep the last one), naming this message type.
   */
  readonly duplicateKeysOf?: string;
}

/**
 * Throws JsonBodyError if `bytes` are not UTF-8 or nest deeper than `maxDepth`. Linear in the body
 * and allocation-free unless duplicate keys are checked. Does not validate the JSON otherwise:
 * JSON.parse does that (on a body now known to be shallow).
 */
export function scanJsonBody(bytes: Uint8Array, opts: JsonScanOptions): void {
  if (!isUtf8(bytes)) throw new JsonBodyError('request body is not valid UTF-8');
  const { maxDepth, duplicateKeysOf } = opts;
  // Only allocated when duplicate keys are checked: one Set per open object, null per array.
  const seen: (Set<string> | null)[] | null = duplicateKeysOf === undefined ? null : [];
  let depth = 0;
  let expectKey = false;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === QUOTE) {
      const open = i;
      let escaped = false;
      for (i++; i < n; i++) {
        const c = bytes[i]!;
        if (c === BACKSLASH) {
          escaped = true;
          i++;
        } else if (c === QUOTE) break;
      }
      if (seen !== null && expectKey) checkKey(bytes, open, i, escaped, seen, duplicateKeysOf!);
      expectKey = false;
    } else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
      if (++depth > maxDepth) throw new JsonBodyError(`JSON nesting is deeper than the limit of ${maxDepth} levels`);
      expectKey = b === OPEN_OBJECT;
      seen?.push(expectKey ? new Set() : null);
    } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) {
      if (depth > 0) depth--;
      seen?.pop();
      expectKey = false;
    } else if (b === COMMA) {
      expectKey = seen !== null && seen.length > 0 && seen[seen.length - 1] !== null;
    } else if (b === COLON) {
      expectKey = false;
    }
  }
}

function checkKey(bytes: Uint8Array, open: number, close: number, escaped: boolean, seen: (Set<string> | null)[], typeName: string): void {
  const names = seen[seen.length - 1];
  if (names === undefined || names === null) return;
  const raw = Buffer.from(bytes.buffer, bytes.byteOffset + open, Math.min(close + 1, bytes.length) - open).toString('utf8');
  let name: string;
  try {
    // Escapes decoded (rare) so that a key written with \u escapes collides with the same key written plainly.
    name = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
  } catch {
    return; // malformed: JSON.parse reports it
  }
  if (names.has(name)) throw new JsonBodyError(`cannot decode message ${typeName} from JSON: duplicate object key "${name}"`);
  names.add(name);
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
      scanJsonBody(input, { maxDepth });
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
