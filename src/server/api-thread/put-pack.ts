// Plain Puts between the API thread and the node's thread as bytes (issue 16). A Put that crossed
// as an object ({t, id, req: {key, value}, timeoutMs}) cost the API thread its serialization and the
// node's thread its rebuilding — two objects, two strings and five property names looked up in the
// string table per Put (~6 % of the leader's node thread, session 12's profile) — and then the node
// encoded the command again. Now the API thread writes each Put's command (kv/command.ts,
// writePlainPut) into one buffer per turn; the node's thread proposes each command's bytes as a
// view into that buffer, and answers the turn's Puts as numbers, three per Put.
//
// Per Put: varint id | f64 timeoutMs | varint length | the command. Only Puts without TTL or session
// are packed: a TTL Put needs its key and value on the node's thread (ttl-room.ts), and a session's
// writes keep their order with the rest of their turn's messages (a pack goes where its first Put
// was queued; Puts in flight together are concurrent, so their order is no client's to rely on).
import { ByteReader, ByteWriter } from '../../util/bytes.ts';
import { writePlainPut } from '../../kv/command.ts';
import type { PutPack } from './protocol.ts';

const PACK_START_BYTES = 4096;
const PACK_KEEP_BYTES = 64 * 1024;

/** The API thread's side: packs a turn's plain Puts into one message. */
export class PutPacker {
  #w = new ByteWriter(PACK_START_BYTES);
  #open: PutPack | null = null;

  /** Packs a Put; returns the message to queue when this Put opens a new one (null: it joined the open one). */
  add(id: number, timeoutMs: number, key: string, value: string): PutPack | null {
    const w = this.#w;
    w.varint(id);
    w.f64(timeoutMs);
    writePlainPut(w, key, value);
    if (this.#open !== null) return null;
    this.#open = { t: 'puts', b: EMPTY };
    return this.#open;
  }

  /** The turn's messages are being sent: the open message gets its bytes (an exact-size copy), and the next Put opens another. */
  seal(): void {
    const open = this.#open;
    if (open === null) return;
    const w = this.#w;
    open.b = w.finish();
    // A turn of large values leaves no large scratch buffer behind (it only grows, by doubling).
    this.#w = w.length > PACK_KEEP_BYTES ? new ByteWriter(PACK_START_BYTES) : w.reset();
    this.#open = null;
  }
}

const EMPTY = new Uint8Array(0);

const malformed = (message: string): Error => new Error(`malformed put pack: ${message}`);

/** The node's side: calls `each` for every Put in `b`, in order; `cmd` is a view into `b`. */
export function readPutPack(b: Uint8Array, each: (id: number, timeoutMs: number, cmd: Uint8Array) => void): void {
  const r = new ByteReader(b, malformed, false);
  while (r.remaining > 0) {
    const id = r.varint('id');
    const timeoutMs = r.f64('timeoutMs');
    each(id, timeoutMs, r.bytesView('command'));
  }
}

/** The node's side: a turn's Put answers as one message of numbers. */
export class PutAnswers {
  #open: number[] | null = null;

  /** Adds an answer; returns the message to queue when it opens a new one (null: it joined the open one). */
  add(id: number, index: number, revision: number): { readonly t: 'putok'; readonly a: readonly number[] } | null {
    const open = this.#open;
    if (open !== null) {
      open.push(id, index, revision);
      return null;
    }
    const a = [id, index, revision];
    this.#open = a;
    return { t: 'putok', a };
  }

  /** The turn's messages are being sent: later answers go in a new message. */
  seal(): void {
    this.#open = null;
  }
}
