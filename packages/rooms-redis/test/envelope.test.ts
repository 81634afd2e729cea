import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { EnvelopeKind, RecordType } from '../src/constants.ts'
import {
  decodeEnvelope,
  encodeMembersReply,
  encodeMembersRequest,
  encodeNodeHeader,
  encodeRoomEnvelope,
} from '../src/envelope.ts'

const header = encodeNodeHeader('n1')

describe('room envelopes', () => {
  it('golden bytes: version, kind, node id, room, then records with binary payloads', () => {
    const bytes = encodeRoomEnvelope(header, 'r', [
      { type: RecordType.MESSAGE, connection: 'c', payload: Buffer.from([0x00, 0xff]) },
      { type: RecordType.MESSAGE, connection: undefined, payload: Buffer.alloc(0) },
    ])
    expect([...bytes]).toEqual([
      1,
      1,
      2,
      0x6e,
      0x31, // version 1, kind ROOM, node id "n1"
      0,
      1,
      0x72, // room "r"
      1,
      0,
      1,
      0x63,
      0,
      0,
      0,
      2,
      0x00,
      0xff, // MESSAGE excluding "c", 2 payload bytes
      1,
      0xff,
      0xff,
      0,
      0,
      0,
      0, // MESSAGE excluding nobody, empty payload
    ])
  })

  it('round-trips records in order, payload bytes untouched', () => {
    const payload = Buffer.from([0x00, 0x01, 0x02, 0x03, 0xc3, 0x28]) // not UTF-8 on purpose
    const bytes = encodeRoomEnvelope(header, 'lobby é', [
      { type: RecordType.JOIN, connection: 'a', payload: Buffer.from('{}') },
      { type: RecordType.MESSAGE, connection: 'a', payload },
      { type: RecordType.LEAVE, connection: 'a', payload: Buffer.from('{}') },
    ])
    const decoded = decodeEnvelope(bytes)
    expect(decoded).toMatchObject({ kind: EnvelopeKind.ROOM, nodeId: 'n1', room: 'lobby é' })
    if (decoded.kind !== EnvelopeKind.ROOM) throw new Error('not a room envelope')
    expect(decoded.records.map((r) => [r.type, r.connection])).toEqual([
      [RecordType.JOIN, 'a'],
      [RecordType.MESSAGE, 'a'],
      [RecordType.LEAVE, 'a'],
    ])
    expect(Buffer.from(decoded.records[1]?.payload ?? [])).toEqual(payload)
  })

  it('refuses ids that do not fit', () => {
    expect(() => encodeNodeHeader('')).toThrow(
      expect.objectContaining({ code: 'ERR_ENVELOPE_FIELD_TOO_LONG' }),
    )
    expect(() => encodeNodeHeader('x'.repeat(256))).toThrow(
      expect.objectContaining({ code: 'ERR_ENVELOPE_FIELD_TOO_LONG' }),
    )
    expect(() =>
      encodeRoomEnvelope(header, 'x'.repeat(0x10000), [
        { type: RecordType.MESSAGE, connection: undefined, payload: Buffer.alloc(0) },
      ]),
    ).toThrow(expect.objectContaining({ code: 'ERR_ENVELOPE_FIELD_TOO_LONG' }))
  })
})

describe('members envelopes', () => {
  it('round-trip a request and a reply', () => {
    expect(decodeEnvelope(encodeMembersRequest(header, 0x01020304, 'r'))).toEqual({
      kind: EnvelopeKind.MEMBERS_REQUEST,
      nodeId: 'n1',
      requestId: 0x01020304,
      room: 'r',
    })
    const reply = decodeEnvelope(
      encodeMembersReply(header, 7, [
        { connectionId: 'a', info: Buffer.from('{"x":1}') },
        { connectionId: 'b', info: Buffer.alloc(0) },
      ]),
    )
    expect(reply).toMatchObject({ kind: EnvelopeKind.MEMBERS_REPLY, nodeId: 'n1', requestId: 7 })
    if (reply.kind !== EnvelopeKind.MEMBERS_REPLY) throw new Error('not a reply')
    expect(reply.members.map((m) => [m.connectionId, Buffer.from(m.info).toString()])).toEqual([
      ['a', '{"x":1}'],
      ['b', ''],
    ])
  })
})

describe('malformed envelopes are reported, never thrown', () => {
  const good = encodeRoomEnvelope(header, 'r', [
    { type: RecordType.MESSAGE, connection: 'c', payload: Buffer.from('hi') },
  ])

  it.each([
    ['empty', Buffer.alloc(0), 'truncated version'],
    ['JSON instead of an envelope', Buffer.from('{"type":"broadcast"}'), 'unsupported version'],
    ['another version', Buffer.from([2, 1, 1, 0x41]), 'unsupported version 2'],
    ['unknown kind', Buffer.from([1, 9, 1, 0x41]), 'unknown kind 9'],
    ['empty node id', Buffer.from([1, 1, 0]), 'empty node id'],
    ['no records', Buffer.from([1, 1, 1, 0x41, 0, 1, 0x72]), 'without records'],
    ['truncated payload', good.subarray(0, good.length - 1), 'truncated payload'],
    ['bad UTF-8 room', Buffer.from([1, 1, 1, 0x41, 0, 1, 0xff]), 'not valid UTF-8'],
    [
      'join without connection',
      Buffer.from([1, 1, 1, 0x41, 0, 0, 2, 0xff, 0xff, 0, 0, 0, 0]),
      'without a connection',
    ],
    [
      'unknown record type',
      Buffer.from([1, 1, 1, 0x41, 0, 0, 7, 0, 0, 0, 0, 0, 0]),
      'unknown record type',
    ],
    [
      'huge member count',
      Buffer.from([1, 3, 1, 0x41, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]),
      'member count',
    ],
  ])('%s', (_name, bytes, reason) => {
    const decoded = decodeEnvelope(bytes)
    expect(decoded.kind).toBe(0)
    expect(decoded).toMatchObject({ reason: expect.stringContaining(reason) })
  })

  it('any bytes decode to an envelope or a reason', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (raw) => {
        const decoded = decodeEnvelope(Buffer.from(raw))
        expect([0, 1, 2, 3]).toContain(decoded.kind)
      }),
      { numRuns: 2000 },
    )
  })

  it('any corruption of a valid envelope decodes or is refused, never throws', () => {
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.nat(255), (at, value) => {
        const bytes = Buffer.from(good)
        bytes[at] = value
        expect(() => decodeEnvelope(bytes)).not.toThrow()
      }),
      { numRuns: 2000 },
    )
  })
})
