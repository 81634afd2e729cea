import { PassThrough, Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import {
  BinaryFrameDecoder,
  BinaryFramesErrorCode,
  DATA,
  encodeFrame,
  encodeFrameParts,
  encodeHeader,
  FILE_TRANSFER,
  HEARTBEAT,
  MessageType,
  PONG,
  PONG_PAYLOAD,
  writeFrame,
} from '../src/index.ts'
import { fromHex, hex, run } from './helpers.ts'

// Asymmetric values: a little-endian or swapped implementation gets every byte wrong.
const TYPE = 0x0102
const LENGTH = 0x00010203
const FLAGS = 0x0405

describe('golden vectors', () => {
  it('encodes type 0x0102, length 0x00010203, flags 0x0405 as 01 02 00 01 02 03 04 05', () => {
    expect(hex(encodeHeader(TYPE, LENGTH, FLAGS))).toBe('0102000102030405')
    const payload = Buffer.alloc(LENGTH, 0xab)
    const frame = encodeFrame(TYPE, payload, FLAGS, { maxFrameBytes: LENGTH })
    expect(frame.length).toBe(8 + LENGTH)
    expect(hex(frame.subarray(0, 10))).toBe('0102000102030405abab')
  })

  it('decodes the same bytes into the same values', () => {
    const wire = Buffer.concat([fromHex('0102000102030405'), Buffer.alloc(LENGTH, 0xcd)])
    const r = run(new BinaryFrameDecoder(), [wire])
    expect(r.codes).toEqual([])
    expect(r.frames).toHaveLength(1)
    expect(r.frames[0]).toMatchObject({ type: TYPE, flags: FLAGS })
    expect(r.frames[0]?.payload.length).toBe(LENGTH)
  })

  it("encodes the verb docs' messages byte for byte", () => {
    expect(hex(encodeFrame(HEARTBEAT, Buffer.alloc(0)))).toBe('0001000000000000')
    expect(hex(encodeFrame(PONG, PONG_PAYLOAD))).toBe('0002000000040000706f6e67')
    expect(hex(encodeFrame(DATA, Buffer.from('hi'), 0x8001))).toBe('00100000000280016869')
    expect(hex(encodeFrame(FILE_TRANSFER, Buffer.from([0])))).toBe('002000000001000000')
    expect(MessageType).toEqual({ HEARTBEAT: 1, PONG: 2, DATA: 0x10, FILE_TRANSFER: 0x20 })
  })

  it('decodes a byte string of several frames, an empty payload among them', () => {
    const r = run(new BinaryFrameDecoder(), [
      '0002 00000004 0000 706f6e67  ffff 00000000 ffff  0102 00000003 0405 0a0b0c',
    ])
    expect(r.tuples).toEqual([
      [2, 0, '706f6e67'],
      [0xffff, 0xffff, ''],
      [0x0102, 0x0405, '0a0b0c'],
    ])
  })

  it('encodes the largest fields: type and flags 0xffff, length 2^32 − 1', () => {
    expect(hex(encodeHeader(0xffff, 2 ** 32 - 1, 0xffff))).toBe('ffffffffffffffff')
    expect(hex(encodeHeader(0, 0, 0))).toBe('0000000000000000')
    expect(hex(encodeHeader(0, 2 ** 31, 0))).toBe('0000800000000000')
  })
})

describe('encoder validation', () => {
  const bad = [-1, 0x10000, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '1', undefined, null]

  it('rejects a type or flags outside 0–65535 or not an integer, with ERR_ENCODE_RANGE', () => {
    for (const value of bad) {
      const v = value as number
      expect(() => encodeFrame(v, Buffer.alloc(1))).toThrowError(
        expect.objectContaining({ code: BinaryFramesErrorCode.ENCODE_RANGE }),
      )
      if (value === undefined) continue // flags default to 0
      expect(() => encodeFrame(1, Buffer.alloc(1), v)).toThrowError(
        expect.objectContaining({ code: 'ERR_ENCODE_RANGE' }),
      )
      expect(() => encodeHeader(1, 1, v)).toThrowError(
        expect.objectContaining({ code: 'ERR_ENCODE_RANGE' }),
      )
    }
  })

  it('rejects a header length outside 0 – 2^32 − 1', () => {
    for (const length of [-1, 2 ** 32, 0.5, Number.NaN]) {
      expect(() => encodeHeader(1, length)).toThrowError(
        expect.objectContaining({ code: 'ERR_ENCODE_RANGE' }),
      )
    }
  })

  it('rejects a payload over the limit, accepts one at the limit', () => {
    expect(() => encodeFrame(1, Buffer.alloc(11), 0, { maxFrameBytes: 10 })).toThrowError(
      expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE', limit: 10, declaredLength: 11 }),
    )
    expect(encodeFrame(1, Buffer.alloc(10), 0, { maxFrameBytes: 10 }).length).toBe(18)
  })

  it('rejects a payload over the 8 MiB default limit', () => {
    expect(() => encodeFrame(1, Buffer.alloc(8 * 1024 * 1024 + 1))).toThrowError(
      expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE', limit: 8 * 1024 * 1024 }),
    )
  })

  it('rejects payloads that are not bytes with a TypeError', () => {
    expect(() => encodeFrame(1, 'abc' as unknown as Uint8Array)).toThrow(TypeError)
  })

  it('rejects limits that are not integers from 0 to 2^32 − 1', () => {
    for (const limit of [-1, 1.5, Number.NaN, 2 ** 32]) {
      expect(() => encodeFrame(1, Buffer.alloc(0), 0, { maxFrameBytes: limit })).toThrow(RangeError)
      expect(() => new BinaryFrameDecoder({ maxFrameBytes: limit })).toThrow(RangeError)
    }
    expect(new BinaryFrameDecoder({ maxFrameBytes: 2 ** 32 - 1 }).maxFrameBytes).toBe(2 ** 32 - 1)
  })

  it('writes nothing when a check fails', () => {
    const out = new PassThrough()
    expect(() => writeFrame(out, 0x10000, Buffer.alloc(1))).toThrow()
    expect(() => writeFrame(out, 1, Buffer.alloc(100_000), 0, { maxFrameBytes: 10 })).toThrow()
    expect(out.writableLength).toBe(0)
    expect(out.read()).toBeNull()
  })
})

describe('writing large payloads without copying them', () => {
  it('encodeFrameParts returns the header and the payload itself', () => {
    const payload = Buffer.alloc(100_000, 1)
    const [header, body] = encodeFrameParts(TYPE, payload, FLAGS)
    expect(hex(header)).toBe('01020001 86a00405'.replace(' ', ''))
    expect(body).toBe(payload)
  })

  it('writeFrame: one buffer up to 16 KiB; header + the payload itself in one writev above', () => {
    const calls: Buffer[][] = []
    const sink = new Writable({
      write(chunk, _e, cb) {
        calls.push([chunk])
        cb()
      },
      writev(chunks, cb) {
        calls.push(chunks.map((c) => c.chunk))
        cb()
      },
    })
    const small = Buffer.alloc(16 * 1024, 2)
    const large = Buffer.alloc(16 * 1024 + 1, 3)
    writeFrame(sink, 1, small)
    writeFrame(sink, 2, large, 0x0405)
    expect(calls.map((c) => c.map((b) => b.length))).toEqual([[8 + 16 * 1024], [8, 16 * 1024 + 1]])
    expect(calls[1]?.[1]?.buffer).toBe(large.buffer) // not copied
    expect(hex(calls[1]?.[0] as Buffer)).toBe('0002000040010405')
  })
})
