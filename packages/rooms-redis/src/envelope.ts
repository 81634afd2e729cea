import { ProtocolError } from '@verb-tcp/core'
import {
  ENVELOPE_VERSION,
  EnvelopeKind,
  MAX_NAME_BYTES,
  MAX_NODE_ID_BYTES,
  MAX_PAYLOAD_BYTES,
  NO_CONNECTION,
  RecordType,
} from './constants.ts'
import { RedisAdapterErrorCode } from './errors.ts'

/** One broadcast or notice inside a room envelope. */
export interface RoomRecord {
  type: RecordType
  /** The excluded connection (MESSAGE) or the one that joined or left (JOIN, LEAVE). */
  connection: string | undefined
  /** Bytes as the sending node encoded them, written to members unchanged. */
  payload: Uint8Array
}

export interface RoomEnvelope {
  kind: typeof EnvelopeKind.ROOM
  nodeId: string
  room: string
  records: RoomRecord[]
}

export interface MembersRequestEnvelope {
  kind: typeof EnvelopeKind.MEMBERS_REQUEST
  nodeId: string
  requestId: number
  room: string
}

/** A member in a reply: its id and its description as its own node encoded it (JSON bytes). */
export interface ReplyMember {
  connectionId: string
  info: Uint8Array
}

export interface MembersReplyEnvelope {
  kind: typeof EnvelopeKind.MEMBERS_REPLY
  nodeId: string
  requestId: number
  members: ReplyMember[]
}

export type Envelope = RoomEnvelope | MembersRequestEnvelope | MembersReplyEnvelope

/** What `decodeEnvelope` returns for bytes that are not an envelope of this version. */
export interface MalformedEnvelope {
  kind: 0
  reason: string
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

function fieldTooLong(what: string, bytes: number, max: number): ProtocolError {
  return new ProtocolError(
    RedisAdapterErrorCode.ENVELOPE_FIELD_TOO_LONG,
    `${what} is ${bytes} bytes in UTF-8; an envelope carries at most ${max}`,
    { limit: max },
  )
}

/**
 * The fixed start of every envelope a node sends (version, kind slot, node id), encoded once per
 * node. Throws `ERR_ENVELOPE_FIELD_TOO_LONG` for an empty or over-long id.
 */
export function encodeNodeHeader(nodeId: string): Buffer {
  const id = Buffer.from(nodeId, 'utf8')
  if (id.length === 0 || id.length > MAX_NODE_ID_BYTES) {
    throw fieldTooLong('the node id', id.length, MAX_NODE_ID_BYTES)
  }
  const header = Buffer.allocUnsafe(3 + id.length)
  header[0] = ENVELOPE_VERSION
  header[1] = 0
  header[2] = id.length
  id.copy(header, 3)
  return header
}

function nameLength(value: string, what: string): number {
  const bytes = Buffer.byteLength(value, 'utf8')
  if (bytes > MAX_NAME_BYTES) throw fieldTooLong(what, bytes, MAX_NAME_BYTES)
  return bytes
}

function start(header: Buffer, kind: EnvelopeKind, size: number): Buffer {
  const out = Buffer.allocUnsafe(size)
  header.copy(out, 0)
  out[1] = kind
  return out
}

/** Writes `text` as a u16 byte length and its UTF-8 bytes (sized by `nameLength` beforehand). */
function putName(out: Buffer, at: number, text: string): number {
  const written = out.write(text, at + 2, 'utf8')
  out.writeUInt16BE(written, at)
  return at + 2 + written
}

/** Writes `bytes` as a u32 length and the bytes themselves. */
function putBytes(out: Buffer, at: number, bytes: Uint8Array): number {
  const from = out.writeUInt32BE(bytes.length, at)
  out.set(bytes, from)
  return from + bytes.length
}

/**
 * One room envelope holding `records` in order. Each payload is copied once into the envelope;
 * receiving nodes write views of it to their members, never re-encoding it.
 */
export function encodeRoomEnvelope(
  header: Buffer,
  room: string,
  records: readonly RoomRecord[],
): Buffer {
  const roomBytes = nameLength(room, 'the room name')
  let size = header.length + 2 + roomBytes
  for (const record of records) {
    if (record.payload.length > MAX_PAYLOAD_BYTES) {
      throw fieldTooLong('a payload', record.payload.length, MAX_PAYLOAD_BYTES)
    }
    size += 1 + 2 + 4 + record.payload.length
    if (record.connection !== undefined) size += nameLength(record.connection, 'a connection id')
  }
  const out = start(header, EnvelopeKind.ROOM, size)
  let at = putName(out, header.length, room)
  for (const record of records) {
    out[at++] = record.type
    at =
      record.connection === undefined
        ? out.writeUInt16BE(NO_CONNECTION, at)
        : putName(out, at, record.connection)
    at = putBytes(out, at, record.payload)
  }
  return out
}

export function encodeMembersRequest(header: Buffer, requestId: number, room: string): Buffer {
  const roomBytes = nameLength(room, 'the room name')
  const out = start(header, EnvelopeKind.MEMBERS_REQUEST, header.length + 4 + 2 + roomBytes)
  putName(out, out.writeUInt32BE(requestId >>> 0, header.length), room)
  return out
}

export function encodeMembersReply(
  header: Buffer,
  requestId: number,
  members: readonly ReplyMember[],
): Buffer {
  let size = header.length + 4 + 4
  for (const member of members) {
    size += 2 + nameLength(member.connectionId, 'a connection id') + 4 + member.info.length
  }
  const out = start(header, EnvelopeKind.MEMBERS_REPLY, size)
  let at = out.writeUInt32BE(requestId >>> 0, header.length)
  at = out.writeUInt32BE(members.length, at)
  for (const member of members) {
    at = putBytes(out, putName(out, at, member.connectionId), member.info)
  }
  return out
}

/** Signals a short or invalid field inside `decodeEnvelope`; never escapes it. */
class Malformed {
  constructor(readonly reason: string) {}
}

class Reader {
  at = 0
  constructor(readonly bytes: Buffer) {}

  need(n: number, what: string): void {
    if (this.bytes.length - this.at < n) throw new Malformed(`truncated ${what}`)
  }

  u8(what: string): number {
    this.need(1, what)
    return this.bytes[this.at++] as number
  }

  u16(what: string): number {
    this.need(2, what)
    const value = this.bytes.readUInt16BE(this.at)
    this.at += 2
    return value
  }

  u32(what: string): number {
    this.need(4, what)
    const value = this.bytes.readUInt32BE(this.at)
    this.at += 4
    return value
  }

  text(length: number, what: string): string {
    this.need(length, what)
    const start = this.at
    this.at += length
    // Ids and room names are mostly ASCII: read those without the strict decoder's overhead.
    let ascii = true
    for (let i = start; i < this.at; i++) {
      if ((this.bytes[i] as number) > 0x7f) {
        ascii = false
        break
      }
    }
    if (ascii) return this.bytes.toString('latin1', start, this.at)
    try {
      return strictUtf8.decode(this.bytes.subarray(start, this.at))
    } catch {
      throw new Malformed(`${what} is not valid UTF-8`)
    }
  }

  bytesOf(length: number, what: string): Buffer {
    this.need(length, what)
    const view = this.bytes.subarray(this.at, this.at + length)
    this.at += length
    return view
  }

  get done(): boolean {
    return this.at === this.bytes.length
  }
}

function decodeRoom(reader: Reader, nodeId: string): RoomEnvelope {
  const room = reader.text(reader.u16('room length'), 'room name')
  const records: RoomRecord[] = []
  while (!reader.done) {
    const type = reader.u8('record type')
    if (type !== RecordType.MESSAGE && type !== RecordType.JOIN && type !== RecordType.LEAVE) {
      throw new Malformed(`unknown record type ${type}`)
    }
    const length = reader.u16('connection length')
    const connection = length === NO_CONNECTION ? undefined : reader.text(length, 'connection id')
    if (connection === undefined && type !== RecordType.MESSAGE) {
      throw new Malformed('a join or leave record without a connection')
    }
    const payload = reader.bytesOf(reader.u32('payload length'), 'payload')
    records.push({ type, connection, payload })
  }
  if (records.length === 0) throw new Malformed('a room envelope without records')
  return { kind: EnvelopeKind.ROOM, nodeId, room, records }
}

/**
 * Reads an envelope. Total: any bytes give either an envelope or a `MalformedEnvelope` with the
 * reason, never a throw. Payloads are views into `bytes`.
 */
export function decodeEnvelope(bytes: Buffer): Envelope | MalformedEnvelope {
  const reader = new Reader(bytes)
  try {
    const version = reader.u8('version')
    if (version !== ENVELOPE_VERSION) throw new Malformed(`unsupported version ${version}`)
    const kind = reader.u8('kind')
    const idLength = reader.u8('node id length')
    if (idLength === 0) throw new Malformed('empty node id')
    const nodeId = reader.text(idLength, 'node id')
    switch (kind) {
      case EnvelopeKind.ROOM:
        return decodeRoom(reader, nodeId)
      case EnvelopeKind.MEMBERS_REQUEST: {
        const requestId = reader.u32('request id')
        const room = reader.text(reader.u16('room length'), 'room name')
        if (!reader.done) throw new Malformed('trailing bytes')
        return { kind, nodeId, requestId, room }
      }
      case EnvelopeKind.MEMBERS_REPLY: {
        const requestId = reader.u32('request id')
        const count = reader.u32('member count')
        // Each member takes at least its two lengths: a count the bytes cannot hold is a lie.
        if (count > (bytes.length - reader.at) / 6) throw new Malformed('member count too large')
        const members: ReplyMember[] = []
        for (let i = 0; i < count; i++) {
          const connectionId = reader.text(reader.u16('member id length'), 'member id')
          const info = reader.bytesOf(reader.u32('member info length'), 'member info')
          members.push({ connectionId, info })
        }
        if (!reader.done) throw new Malformed('trailing bytes')
        return { kind, nodeId, requestId, members }
      }
      default:
        throw new Malformed(`unknown kind ${kind}`)
    }
  } catch (error) {
    if (error instanceof Malformed) return { kind: 0, reason: error.reason }
    // A bug here must still not crash a node on a peer's bytes.
    return { kind: 0, reason: String(error) }
  }
}
