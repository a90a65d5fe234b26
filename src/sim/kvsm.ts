// The simulator's own replicated state machine: string keys → string values, fed by committed
// entries. Each value remembers the log index that wrote it, which the stale-read oracle compares
// against the index of the latest acknowledged write.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A put command, as carried in an Entry's data. Values are unique per key (client id + seq). */
export interface PutCommand {
  readonly key: string;
  readonly value: string;
}

export function encodePut(cmd: PutCommand): Uint8Array {
  return encoder.encode(`${cmd.key}\u0000${cmd.value}`);
}

export function decodePut(data: Uint8Array): PutCommand {
  const text = decoder.decode(data);
  const sep = text.indexOf('\u0000');
  if (sep < 0) throw new Error(`sim kv: malformed command ${JSON.stringify(text)}`);
  return { key: text.slice(0, sep), value: text.slice(sep + 1) };
}

export interface Versioned {
  readonly value: string;
  /** Log index of the entry that wrote `value`. */
  readonly index: number;
}

export class KvStateMachine {
  private data = new Map<string, Versioned>();
  /** Invariant: every entry up to appliedIndex has been applied, in order, exactly once. */
  appliedIndex = 0;

  apply(index: number, cmd: PutCommand | null): void {
    if (index !== this.appliedIndex + 1) {
      throw new Error(`sim kv: apply out of order: index ${index} after ${this.appliedIndex}`);
    }
    if (cmd !== null) this.data.set(cmd.key, { value: cmd.value, index });
    this.appliedIndex = index;
  }

  get(key: string): Versioned | undefined {
    return this.data.get(key);
  }

  snapshot(): KvSnapshot {
    return { appliedIndex: this.appliedIndex, data: new Map(this.data) };
  }

  restore(snap: KvSnapshot): void {
    this.data = new Map(snap.data);
    this.appliedIndex = snap.appliedIndex;
  }
}

export interface KvSnapshot {
  readonly appliedIndex: number;
  readonly data: ReadonlyMap<string, Versioned>;
}
