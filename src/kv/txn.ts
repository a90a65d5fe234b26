// Multi-key transactions (issue 14), in the shape etcd users know: compare on any number of keys,
// then one list of operations if every comparison holds, else another. Types and the binary form
// of a transaction's body inside a command (command.ts carries the header and the session).
//
// Body layout:
//   varint compareCount × compare | varint successCount × op | varint failureCount × op
//   compare: u8 target (1 value, 2 version, 3 create, 4 mod) | u8 result (1 =, 2 !=, 3 <, 4 >)
//            | str key | (str value | varint number)
//   op:      u8 kind (1 put, 2 delete, 3 get, 4 range) | put: str key, str value
//            | delete: str key | get: str key | range: str prefix, varint limit
import type { ByteReader, ByteWriter } from '../util/bytes.ts';

export type CompareResult = '=' | '!=' | '<' | '>';

/**
 * One comparison against a key's current state. An absent key has version 0, create and mod
 * revision 0, and no value (a value comparison on an absent key is false whatever the operator).
 * Existence: version > 0; absence: version = 0.
 */
export type Compare =
  | { readonly key: string; readonly target: 'value'; readonly result: CompareResult; readonly value: string }
  | {
      readonly key: string;
      readonly target: 'version' | 'create' | 'mod';
      readonly result: CompareResult;
      readonly number: number;
    };

export type TxnOp =
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'range'; readonly prefix: string; readonly limit: number };

export interface TxnBody {
  readonly compares: readonly Compare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
}

const TARGET = { value: 1, version: 2, create: 3, mod: 4 } as const;
const TARGET_BY_CODE = ['', 'value', 'version', 'create', 'mod'] as const;
const RESULT = { '=': 1, '!=': 2, '<': 3, '>': 4 } as const;
const RESULT_BY_CODE = ['', '=', '!=', '<', '>'] as const;
const KIND = { put: 1, delete: 2, get: 3, range: 4 } as const;

export function writeTxnBody(w: ByteWriter, t: TxnBody): void {
  w.varint(t.compares.length);
  for (const c of t.compares) {
    w.u8(TARGET[c.target]);
    w.u8(RESULT[c.result]);
    w.str(c.key);
    if (c.target === 'value') w.str(c.value);
    else w.varint(c.number);
  }
  writeOps(w, t.success);
  writeOps(w, t.failure);
}

function writeOps(w: ByteWriter, ops: readonly TxnOp[]): void {
  w.varint(ops.length);
  for (const o of ops) {
    w.u8(KIND[o.op]);
    if (o.op === 'range') {
      w.str(o.prefix);
      w.varint(o.limit);
      continue;
    }
    w.str(o.key);
    if (o.op === 'put') w.str(o.value);
  }
}

/** Decodes untrusted bytes; throws what `fail` makes (CommandDecodeError). */
export function readTxnBody(r: ByteReader, fail: (m: string) => Error): TxnBody {
  const count = (what: string): number => {
    const n = r.varint(what);
    // Every element takes at least 2 bytes: a hostile count cannot make us allocate much.
    if (n > r.remaining / 2) throw fail(`${what} ${n} exceeds the command size`);
    return n;
  };
  const compares: Compare[] = [];
  for (let i = count('compare count'); i > 0; i--) {
    const target = TARGET_BY_CODE[r.u8('compare target')];
    const result = RESULT_BY_CODE[r.u8('compare result')];
    if (target === undefined || target === '') throw fail('unknown compare target');
    if (result === undefined || result === '') throw fail('unknown compare result');
    const key = r.str('compare key');
    compares.push(
      target === 'value'
        ? { key, target, result, value: r.str('compare value') }
        : { key, target, result, number: r.varint('compare number') },
    );
  }
  const success = readOps(r, count('success count'), fail);
  const failure = readOps(r, count('failure count'), fail);
  return { compares, success, failure };
}

function readOps(r: ByteReader, n: number, fail: (m: string) => Error): TxnOp[] {
  const ops: TxnOp[] = [];
  for (let i = 0; i < n; i++) {
    const kind = r.u8('op kind');
    switch (kind) {
      case KIND.put:
        ops.push({ op: 'put', key: r.str('put key'), value: r.str('put value') });
        break;
      case KIND.delete:
        ops.push({ op: 'delete', key: r.str('delete key') });
        break;
      case KIND.get:
        ops.push({ op: 'get', key: r.str('get key') });
        break;
      case KIND.range:
        ops.push({ op: 'range', prefix: r.str('range prefix'), limit: r.varint('range limit') });
        break;
      default:
        throw fail(`unknown txn op ${kind}`);
    }
  }
  return ops;
}

/** A key's state as comparisons see it (absent: zeros and no value). */
export interface KeyState {
  readonly value: string | undefined;
  readonly version: number;
  readonly create: number;
  readonly mod: number;
}

function cmp<T extends string | number>(a: T, b: T, result: CompareResult): boolean {
  switch (result) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '>':
      return a > b;
  }
}

export function compareHolds(c: Compare, s: KeyState): boolean {
  if (c.target === 'value') return s.value !== undefined && cmp(s.value, c.value, c.result);
  const n = c.target === 'version' ? s.version : c.target === 'create' ? s.create : s.mod;
  return cmp(n, c.number, c.result);
}
