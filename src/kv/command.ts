// The commands carried in Entry.data, and their compact binary encoding.
//
// Layout (version 1):
//   u8 version (=1) | u8 op | u8 flags | [session: str clientId, varint seq] | str key | op fields
//   put:    str value
//   delete: (nothing)
//   cas:    [str expected, if flags & EXPECTED_PRESENT] | str value
//   txn:    key "" | the transaction body (txn.ts)
// Strings are varint length + UTF-8. Decoding rejects anything else with CommandDecodeError, which
// the state machine turns into a deterministic error result (a bad entry never stops the apply loop).

import { ByteReader, ByteWriter } from '../util/bytes.ts';
import { readTxnBody, writeTxnBody, type TxnBody } from './txn.ts';

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

export type Command = PutCommand | DeleteCommand | CasCommand | TxnCommand;

/** The command bytes cannot be decoded (corrupt, foreign or from a newer version). */
export class CommandDecodeError extends Error {
  override readonly name = 'CommandDecodeError';
}

const OP_CODE = { put: 1, delete: 2, cas: 3, txn: 4 } as const;
const FLAG_SESSION = 1;
const FLAG_EXPECTED_PRESENT = 2;
const KNOWN_FLAGS = FLAG_SESSION | FLAG_EXPECTED_PRESENT;

export function encodeCommand(cmd: Command): Uint8Array {
  const w = new ByteWriter(cmd.op === 'txn' ? 256 : 32 + cmd.key.length * 3 + (cmd.op === 'delete' ? 0 : cmd.value.length * 3));
  w.u8(COMMAND_VERSION);
  w.u8(OP_CODE[cmd.op]);
  let flags = 0;
  if (cmd.session !== undefined) flags |= FLAG_SESSION;
  if (cmd.op === 'cas' && cmd.expected !== null) flags |= FLAG_EXPECTED_PRESENT;
  w.u8(flags);
  if (cmd.session !== undefined) {
    assertSession(cmd.session);
    w.str(cmd.session.clientId);
    w.varint(cmd.session.seq);
  }
  w.str(cmd.op === 'txn' ? '' : cmd.key);
  if (cmd.op === 'put') w.str(cmd.value);
  else if (cmd.op === 'txn') writeTxnBody(w, cmd);
  else if (cmd.op === 'cas') {
    if (cmd.expected !== null) w.str(cmd.expected);
    w.str(cmd.value);
  }
  return w.finish();
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
  let cmd: Command;
  switch (opCode) {
    case OP_CODE.put:
      if ((flags & FLAG_EXPECTED_PRESENT) !== 0) throw new CommandDecodeError('put with expected flag');
      cmd = withSession<PutCommand>({ op: 'put', key, value: r.str('value') });
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
