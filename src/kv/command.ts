// The commands carried in Entry.data, and their compact binary encoding.
//
// Layout (version 1):
//   u8 version (=1) | u8 op | u8 flags | [session: str clientId, varint seq] | str key | op fields
//   put:    str value
//   delete: (nothing)
//   cas:    [str expected, if flags & EXPECTED_PRESENT] | str value
//   txn:    key "" | the transaction body (txn.ts)
//   put with a TTL (flags & TTL): str value | varint ttl id
//   ttl-grant: key "" | varint ttlMs;  ttl-revoke, ttl-expire: key "" | varint ttl id
//   auth (issue 15): key "" | str JSON change (auth.ts); never with a session
// Strings are varint length + UTF-8. Decoding rejects anything else with CommandDecodeError, which
// the state machine turns into a deterministic error result (a bad entry never stops the apply loop).

import { Buffer } from 'node:buffer';
import { ByteReader, ByteWriter, varintSize } from '../util/bytes.ts';
import { readTxnBody, writeTxnBody, type TxnBody } from './txn.ts';
import { readAuthChange, writeAuthChange, type AuthChange } from './auth.ts';

export const COMMAND_VERSION = 1;

/** Exactly-once identity of a command (Raft thesis §6.3). seq starts at 1 and grows per client. */
export interface Session {
  readonly clientId: string;
  readonly seq: number;
}

export interface PutCommand {
  readonly op: 'put';
  readonly key: string;
  readonly value: string;
  /** Attach the key to this TTL grant (ttl.ts): it is deleted when the grant ends. */
  readonly ttl?: number;
  readonly session?: Session;
}

/** Keys with a time to live (issue 14): a grant lives ttlMs after its last keep-alive (docs/lease-safety.md). */
export interface TtlGrantCommand {
  readonly op: 'ttl-grant';
  readonly ttlMs: number;
  readonly session?: Session;
}
/** Ends a grant now and deletes its keys: asked by a client (revoke) or decided by the leader (expire). */
export interface TtlEndCommand {
  readonly op: 'ttl-revoke' | 'ttl-expire';
  readonly id: number;
  readonly session?: Session;
}

export interface DeleteCommand {
  readonly op: 'delete';
  readonly key: string;
  readonly session?: Session;
}

export interface CasCommand {
  readonly op: 'cas';
  readonly key: string;
  /** null: the key must be absent for the swap to happen. */
  readonly expected: string | null;
  readonly value: string;
  readonly session?: Session;
}

/** A multi-key transaction (txn.ts): compares, then `success` or `failure`, atomically. */
export interface TxnCommand extends TxnBody {
  readonly op: 'txn';
  readonly session?: Session;
}

/** Forget history before `revision` (clamped to the current revision): reads and watches before it get "compacted". */
export interface CompactCommand {
  readonly op: 'compact';
  readonly revision: number;
  readonly session?: Session;
}

/** A change to users and roles (auth.ts). Carries no session: each change is checked against the table when applied. */
export interface AuthCommand {
  readonly op: 'auth';
  readonly change: AuthChange;
  readonly session?: undefined;
}

export type Command =
  PutCommand | DeleteCommand | CasCommand | TxnCommand | TtlGrantCommand | TtlEndCommand | CompactCommand | AuthCommand;

/** The command bytes cannot be decoded (corrupt, foreign or from a newer version). */
export class CommandDecodeError extends Error {
  override readonly name = 'CommandDecodeError';
}

const OP_CODE = {
  put: 1,
  delete: 2,
  cas: 3,
  txn: 4,
  'ttl-grant': 5,
  'ttl-revoke': 6,
  'ttl-expire': 7,
  compact: 8,
  auth: 9,
} as const;
const FLAG_SESSION = 1;
const FLAG_EXPECTED_PRESENT = 2;
const FLAG_TTL = 4;
const KNOWN_FLAGS = FLAG_SESSION | FLAG_EXPECTED_PRESENT | FLAG_TTL;
const keyOf = (cmd: Command): string => (cmd.op === 'put' || cmd.op === 'delete' || cmd.op === 'cas' ? cmd.key : '');

export function encodeCommand(cmd: Command): Uint8Array {
  const w = new ByteWriter(
    cmd.op === 'put' || cmd.op === 'cas'
      ? 32 + cmd.key.length * 3 + cmd.value.length * 3
      : cmd.op === 'delete'
        ? 32 + cmd.key.length * 3
        : 256,
  );
  w.u8(COMMAND_VERSION);
  w.u8(OP_CODE[cmd.op]);
  let flags = 0;
  if (cmd.session !== undefined) flags |= FLAG_SESSION;
  if (cmd.op === 'cas' && cmd.expected !== null) flags |= FLAG_EXPECTED_PRESENT;
  if (cmd.op === 'put' && cmd.ttl !== undefined) flags |= FLAG_TTL;
  w.u8(flags);
  if (cmd.session !== undefined) {
    assertSession(cmd.session);
    w.str(cmd.session.clientId);
    w.varint(cmd.session.seq);
  }
  w.str(keyOf(cmd));
  if (cmd.op === 'put') {
    w.str(cmd.value);
    if (cmd.ttl !== undefined) w.varint(cmd.ttl);
  } else if (cmd.op === 'txn') writeTxnBody(w, cmd);
  else if (cmd.op === 'ttl-grant') w.varint(cmd.ttlMs);
  else if (cmd.op === 'ttl-revoke' || cmd.op === 'ttl-expire') w.varint(cmd.id);
  else if (cmd.op === 'compact') w.varint(cmd.revision);
  else if (cmd.op === 'auth') writeAuthChange(w, cmd.change);
  else if (cmd.op === 'cas') {
    if (cmd.expected !== null) w.str(cmd.expected);
    w.str(cmd.value);
  }
  return w.finish();
}

/**
 * A put without TTL or session, as encodeCommand encodes it, written into `w` behind a varint of its
 * length (ByteReader.bytesView reads it back): the client API thread packs a turn's plain puts into
 * one buffer this way, and the node's thread proposes each command's bytes as they are (issue 16).
 */
export function writePlainPut(w: ByteWriter, key: string, value: string): void {
  const keyBytes = Buffer.byteLength(key, 'utf8');
  const valueBytes = Buffer.byteLength(value, 'utf8');
  w.varint(3 + varintSize(keyBytes) + keyBytes + varintSize(valueBytes) + valueBytes);
  w.u8(COMMAND_VERSION);
  w.u8(OP_CODE.put);
  w.u8(0);
  w.str(key);
  w.str(value);
}

function assertSession(s: Session): void {
  // Programmer errors: the server validates client input before building a command.
  if (s.clientId.length === 0) throw new RangeError('session clientId must be non-empty');
  if (!Number.isSafeInteger(s.seq) || s.seq < 1) throw new RangeError(`session seq must be an integer >= 1: ${s.seq}`);
}

const fail = (message: string): Error => new CommandDecodeError(message);

/** Decodes untrusted bytes; throws only CommandDecodeError. */
export function decodeCommand(bytes: Uint8Array): Command {
  const r = new ByteReader(bytes, fail);
  const version = r.u8('version');
  if (version !== COMMAND_VERSION) throw new CommandDecodeError(`unknown command version ${version}`);
  const opCode = r.u8('op');
  const flags = r.u8('flags');
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new CommandDecodeError(`unknown flags 0x${flags.toString(16)}`);
  let session: Session | undefined;
  if ((flags & FLAG_SESSION) !== 0) {
    const clientId = r.str('clientId');
    const seq = r.varint('seq');
    if (clientId.length === 0) throw new CommandDecodeError('empty clientId');
    if (seq < 1) throw new CommandDecodeError('seq must be >= 1');
    session = { clientId, seq };
  }
  const key = r.str('key');
  const withSession = <T extends object>(c: T): T => (session === undefined ? c : { ...c, session });
  if ((flags & FLAG_TTL) !== 0 && opCode !== OP_CODE.put)
    throw new CommandDecodeError('ttl flag on a command other than put');
  if (
    opCode >= OP_CODE['ttl-grant'] &&
    opCode <= OP_CODE.compact &&
    (key !== '' || (flags & FLAG_EXPECTED_PRESENT) !== 0)
  ) {
    throw new CommandDecodeError('ttl or compact command with a key or an expected value');
  }
  let cmd: Command;
  switch (opCode) {
    case OP_CODE.put: {
      if ((flags & FLAG_EXPECTED_PRESENT) !== 0) throw new CommandDecodeError('put with expected flag');
      const value = r.str('value');
      cmd = withSession<PutCommand>(
        (flags & FLAG_TTL) !== 0 ? { op: 'put', key, value, ttl: r.varint('ttl id') } : { op: 'put', key, value },
      );
      break;
    }
    case OP_CODE['ttl-grant']:
      cmd = withSession<TtlGrantCommand>({ op: 'ttl-grant', ttlMs: r.varint('ttlMs') });
      break;
    case OP_CODE['ttl-revoke']:
      cmd = withSession<TtlEndCommand>({ op: 'ttl-revoke', id: r.varint('ttl id') });
      break;
    case OP_CODE['ttl-expire']:
      cmd = withSession<TtlEndCommand>({ op: 'ttl-expire', id: r.varint('ttl id') });
      break;
    case OP_CODE.compact:
      cmd = withSession<CompactCommand>({ op: 'compact', revision: r.varint('revision') });
      break;
    case OP_CODE.auth:
      if (key !== '' || flags !== 0) throw new CommandDecodeError('auth command with a key, flags or a session');
      cmd = { op: 'auth', change: readAuthChange(r, fail) };
      break;
    case OP_CODE.delete:
      if ((flags & FLAG_EXPECTED_PRESENT) !== 0) throw new CommandDecodeError('delete with expected flag');
      cmd = withSession<DeleteCommand>({ op: 'delete', key });
      break;
    case OP_CODE.cas: {
      const expected = (flags & FLAG_EXPECTED_PRESENT) !== 0 ? r.str('expected') : null;
      cmd = withSession<CasCommand>({ op: 'cas', key, expected, value: r.str('value') });
      break;
    }
    case OP_CODE.txn: {
      if ((flags & FLAG_EXPECTED_PRESENT) !== 0) throw new CommandDecodeError('txn with expected flag');
      if (key !== '') throw new CommandDecodeError('txn with a key');
      cmd = withSession<TxnCommand>({ op: 'txn', ...readTxnBody(r, fail) });
      break;
    }
    default:
      throw new CommandDecodeError(`unknown op ${opCode}`);
  }
  r.expectEnd('command');
  return cmd;
}
