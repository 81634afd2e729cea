import type { ProtocolError } from '@verb-tcp/core'
import type { DecodeSink } from '@verb-tcp/core/codec'
import { describe, expect, it } from 'vitest'
import { type BinaryFrame, BinaryFrameDecoder, encodeFrame, encodeHeader } from '../src/index.ts'
import { fromHex, hex, run } from './helpers.ts'

const frames: [number, number, string][] = [
  [0x0102, 0x0405, '0a0b0c'],
  [0x0001, 0, ''],
  [0xffff, 0x8000, 'ff'.repeat(20)],
  [0x0010, 1, '00'],
]
const wire = Buffer.concat(frames.map(([t, f, p]) => encodeFrame(t, fromHex(p), f)))

const collect = () => {
  const out: BinaryFrame[] = []
  const errors: ProtocolError[] = []
  const sink: DecodeSink<BinaryFrame> = { frame: (f) => out.push(f), error: (e) => errors.push(e) }
  return { out, errors, sink }
}

describe('chunk boundaries', () => {
  it('decodes a header split at every offset 1–7, keeping at most 8 bytes', () => {
    const frame = encodeFrame(0x0102, Buffer.from('abc'), 0x0405)
    for (let at = 1; at <= 7; at++) {
      const d = new BinaryFrameDecoder()
      const { out, errors, sink } = collect()
      d.push(frame.subarray(0, at), sink)
      expect(d.bufferedBytes, `split at ${at}`).toBe(at)
      d.push(frame.subarray(at), sink)
      d.end(sink)
      expect(errors).toEqual([])
      expect(out.map((f) => [f.type, f.flags, f.payload.toString()])).toEqual([
        [0x0102, 0x0405, 'abc'],
      ])
    }
  })

  it('decodes a header delivered in three pieces (1 + 6 + 1 bytes)', () => {
    const frame = encodeFrame(0x0102, Buffer.from('z'), 0x0405)
    const r = run(new BinaryFrameDecoder(), [
      frame.subarray(0, 1),
      frame.subarray(1, 7),
      frame.subarray(7, 8),
      frame.subarray(8),
    ])
    expect(r.tuples).toEqual([[0x0102, 0x0405, '7a']])
  })

  it('decodes the same frames at every split point of a multi-frame stream', () => {
    for (let at = 0; at <= wire.length; at++) {
      const r = run(new BinaryFrameDecoder(), [wire.subarray(0, at), wire.subarray(at)])
      expect(r.tuples, `split at ${at}`).toEqual(frames)
      expect(r.codes).toEqual([])
    }
  })

  it('decodes the same frames from 1-byte chunks', () => {
    const r = run(
      new BinaryFrameDecoder(),
      [...wire].map((b) => Buffer.from([b])),
    )
    expect(r.tuples).toEqual(frames)
  })

  it('emits thousands of frames from one chunk, in order', () => {
    const many = Buffer.concat(
      Array.from({ length: 5000 }, (_, i) => encodeFrame(i, Buffer.from(String(i)))),
    )
    const r = run(new BinaryFrameDecoder(), [many])
    expect(r.frames.length).toBe(5000)
    expect(r.frames.every((f, i) => f.type === i && f.payload.toString() === String(i))).toBe(true)
  })

  it('ends cleanly when a chunk ends on a frame boundary', () => {
    const d = new BinaryFrameDecoder()
    const r = run(d, [encodeFrame(1, Buffer.from('ab')), encodeFrame(2, Buffer.alloc(0))])
    expect(r.codes).toEqual([])
    expect(r.frames).toHaveLength(2)
    expect(d.bufferedBytes).toBe(0)
  })

  it('treats zero-length chunks as no-ops, not as the end', () => {
    const f = encodeFrame(7, Buffer.from('abc'))
    const r = run(new BinaryFrameDecoder(), [
      Buffer.alloc(0),
      f.subarray(0, 3),
      Buffer.alloc(0),
      f.subarray(3, 9),
      Buffer.alloc(0),
      f.subarray(9),
      Buffer.alloc(0),
    ])
    expect(r.tuples).toEqual([[7, 0, '616263']])
    expect(r.codes).toEqual([])
  })
})

describe('lengths and limits', () => {
  it('a length of 0 is a frame with an empty payload', () => {
    const r = run(new BinaryFrameDecoder(), ['0010 00000000 0000'])
    expect(r.tuples).toEqual([[0x10, 0, '']])
    expect(r.frames[0]?.payload).toBeInstanceOf(Buffer)
  })

  it('accepts a frame of exactly the limit and rejects limit + 1 at the header', () => {
    const ok = run(new BinaryFrameDecoder({ maxFrameBytes: 5 }), [
      encodeFrame(1, Buffer.from('12345')),
    ])
    expect(ok.tuples).toEqual([[1, 0, '3132333435']])
    const d = new BinaryFrameDecoder({ maxFrameBytes: 5 })
    const over = run(d, [encodeHeader(1, 6)], false)
    expect(over.codes).toEqual(['ERR_FRAME_TOO_LARGE'])
    expect(over.errors[0]).toMatchObject({
      declaredLength: 6,
      limit: 5,
      recoverable: false,
      offset: 0,
    })
    expect(d.bufferedBytes).toBe(0)
  })

  it('counts payload bytes only: the limit is the default 8 MiB, the header is free', () => {
    const d = new BinaryFrameDecoder()
    expect(d.maxFrameBytes).toBe(8 * 1024 * 1024)
    const { errors, sink } = collect()
    d.push(encodeHeader(1, 8 * 1024 * 1024), sink)
    expect(errors).toEqual([])
    d.push(encodeHeader(1, 8 * 1024 * 1024 + 1), sink) // inside the first payload: just bytes
    expect(errors).toEqual([])
    const e = run(new BinaryFrameDecoder(), [encodeHeader(1, 8 * 1024 * 1024 + 1)], false)
    expect(e.codes).toEqual(['ERR_FRAME_TOO_LARGE'])
  })

  it('reads a length with the high bit set (2^31) unsigned, then ERR_FRAME_TOO_LARGE', () => {
    const r = run(new BinaryFrameDecoder(), ['0001 80000000 0000 00'])
    expect(r.codes).toEqual(['ERR_FRAME_TOO_LARGE'])
    expect(r.errors[0]?.declaredLength).toBe(2 ** 31)
  })

  it('length 2^32 − 1 fails at the header and allocates nothing', () => {
    const d = new BinaryFrameDecoder()
    const r = run(d, ['0001 ffffffff 0000 0102'], false)
    expect(r.codes).toEqual(['ERR_FRAME_TOO_LARGE'])
    expect(r.errors[0]?.declaredLength).toBe(2 ** 32 - 1)
    expect(d.bufferedBytes).toBe(0)
  })

  it('with the largest limit, 2^31 and 2^32 − 1 are accepted and memory follows the bytes received', () => {
    for (const declared of [2 ** 31, 2 ** 32 - 1]) {
      const d = new BinaryFrameDecoder({ maxFrameBytes: 2 ** 32 - 1 })
      const { errors, sink } = collect()
      d.push(encodeHeader(1, declared), sink)
      expect(d.bufferedBytes).toBe(0)
      for (let i = 0; i < 10; i++) d.push(Buffer.alloc(1000), sink)
      expect(d.bufferedBytes).toBeLessThanOrEqual(64 * 1024)
      for (let i = 0; i < 100; i++) d.push(Buffer.alloc(10_000), sink)
      expect(d.bufferedBytes).toBeLessThanOrEqual(2 * 1_010_000)
      d.end(sink)
      expect(errors.map((e) => e.code)).toEqual(['ERR_TRUNCATED_FRAME'])
      expect(errors[0]).toMatchObject({ expected: declared, received: 1_010_000 })
    }
  })

  it('buffers a spanning payload up to 64 KiB in one exact-size buffer', () => {
    const d = new BinaryFrameDecoder()
    const { out, sink } = collect()
    d.push(Buffer.concat([encodeHeader(3, 65536), Buffer.from('ab')]), sink)
    expect(d.bufferedBytes).toBe(65536)
    d.push(Buffer.alloc(65534, 0x63), sink)
    expect(out).toHaveLength(1)
    expect(out[0]?.payload.length).toBe(65536)
    expect(out[0]?.payload.subarray(0, 3).toString()).toBe('abc')
    expect(d.bufferedBytes).toBe(0)
  })

  it('with oversize "skip", discards exactly the declared bytes and goes on', () => {
    const d = new BinaryFrameDecoder({ maxFrameBytes: 3, oversize: 'skip' })
    const big = encodeHeader(9, 10)
    const r = run(d, [
      Buffer.concat([encodeFrame(1, Buffer.from('a')), big, Buffer.from('0123')]),
      Buffer.from('456789'),
      encodeFrame(2, Buffer.from('bc')),
    ])
    expect(r.tuples).toEqual([
      [1, 0, '61'],
      [2, 0, '6263'],
    ])
    expect(r.codes).toEqual(['ERR_FRAME_TOO_LARGE'])
    expect(r.errors[0]).toMatchObject({ recoverable: true, declaredLength: 10, offset: 9 })
    expect(d.bufferedBytes).toBe(0)
  })
})

describe('types and flags', () => {
  it('passes unknown types through by default', () => {
    expect(run(new BinaryFrameDecoder(), ['abcd 00000001 0000 01']).tuples).toEqual([
      [0xabcd, 0, '01'],
    ])
  })

  it('with an allow-list, another type is a recoverable ERR_UNKNOWN_TYPE and is skipped exactly', () => {
    const d = new BinaryFrameDecoder({ types: [1, 0x10] })
    const bad = encodeFrame(0x99, Buffer.alloc(5, 0x10)) // payload looks like headers: must be skipped
    const r = run(d, [
      bad.subarray(0, 10),
      Buffer.concat([bad.subarray(10), encodeFrame(0x10, Buffer.from('ok'))]),
    ])
    expect(r.tuples).toEqual([[0x10, 0, '6f6b']])
    expect(r.codes).toEqual(['ERR_UNKNOWN_TYPE'])
    expect(r.errors[0]).toMatchObject({ recoverable: true, offset: 0, declaredLength: 5 })
    expect(r.errors[0]?.message).toContain('0x0099')
  })

  it('passes reserved flags through by default; with allowedFlags they are a recoverable ERR_RESERVED_FLAGS', () => {
    const f = encodeFrame(1, Buffer.from('x'), 0x8001)
    expect(run(new BinaryFrameDecoder(), [f]).tuples).toEqual([[1, 0x8001, '78']])
    const r = run(new BinaryFrameDecoder({ allowedFlags: 0x0001 }), [
      f,
      encodeFrame(1, Buffer.from('y'), 1),
    ])
    expect(r.tuples).toEqual([[1, 1, '79']])
    expect(r.codes).toEqual(['ERR_RESERVED_FLAGS'])
    expect(r.errors[0]?.recoverable).toBe(true)
  })

  it('rejects bad type lists and flag masks at construction', () => {
    const range = expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' })
    const type = expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
    expect(() => new BinaryFrameDecoder({ types: [0x10000] })).toThrow(range)
    expect(() => new BinaryFrameDecoder({ allowedFlags: -1 })).toThrow(range)
    expect(() => new BinaryFrameDecoder({ types: 5 as never })).toThrow(type)
  })

  it("rejects bad options with Node's codes, from core's one validator", () => {
    const type = expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
    const value = expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' })
    expect(() => new BinaryFrameDecoder({ maxFrameBytes: '1' as never })).toThrow(type)
    expect(() => new BinaryFrameDecoder({ oversize: 'drop' as never })).toThrow(value)
    expect(() => new BinaryFrameDecoder({ copy: 1 as never })).toThrow(type)
  })
})

describe('wrong protocol on the port', () => {
  it('fails an HTTP request line at its first header, with the bytes in hex', () => {
    const d = new BinaryFrameDecoder()
    const r = run(d, [Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n')], false)
    expect(r.codes).toEqual(['ERR_FRAME_TOO_LARGE'])
    expect(r.errors[0]?.declaredLength).toBe(0x54202f20)
    expect(r.errors[0]?.message).toContain('47 45 54 20 2f 20 48 54')
    expect(d.bufferedBytes).toBe(0)
  })

  it('fails a TLS ClientHello at its first header, with the bytes in hex', () => {
    const r = run(new BinaryFrameDecoder(), ['16 03 01 02 00 01 00 01 fc 03 03'], false)
    expect(r.codes).toEqual(['ERR_FRAME_TOO_LARGE'])
    expect(r.errors[0]?.message).toContain('16 03 01 02 00 01 00 01')
  })

  it('reports the offset and hex of a bad header split across chunks', () => {
    const r = run(
      new BinaryFrameDecoder(),
      [encodeFrame(1, Buffer.from('ab')), Buffer.from('GET'), Buffer.from(' / HTTP/1.1')],
      false,
    )
    expect(r.tuples).toEqual([[1, 0, '6162']])
    expect(r.errors[0]?.offset).toBe(10)
    expect(r.errors[0]?.message).toContain('47 45 54 20 2f 20 48 54')
  })
})

describe('end of input', () => {
  it('is ERR_TRUNCATED_FRAME inside a payload, with expected and received counts', () => {
    const r = run(new BinaryFrameDecoder(), [Buffer.concat([encodeHeader(1, 5), fromHex('0102')])])
    expect(r.codes).toEqual(['ERR_TRUNCATED_FRAME'])
    expect(r.errors[0]).toMatchObject({ expected: 5, received: 2, declaredLength: 5, offset: 10 })
  })

  it('is ERR_TRUNCATED_FRAME inside a header', () => {
    const r = run(new BinaryFrameDecoder(), [encodeFrame(1, Buffer.alloc(0)), fromHex('000100')])
    expect(r.frames).toHaveLength(1)
    expect(r.errors[0]).toMatchObject({
      code: 'ERR_TRUNCATED_FRAME',
      received: 3,
      expected: undefined,
    })
  })

  it('is ERR_TRUNCATED_FRAME inside a skipped frame', () => {
    const d = new BinaryFrameDecoder({ maxFrameBytes: 1, oversize: 'skip' })
    const r = run(d, [Buffer.concat([encodeHeader(1, 5), fromHex('0102')])])
    expect(r.codes).toEqual(['ERR_FRAME_TOO_LARGE', 'ERR_TRUNCATED_FRAME'])
  })

  it('is clean on a frame boundary; end() twice and input after end are ignored', () => {
    const d = new BinaryFrameDecoder()
    expect(run(d, [encodeFrame(1, Buffer.from('a'))]).codes).toEqual([])
    expect(run(d, [encodeFrame(1, Buffer.from('b'))]).frames).toEqual([])
  })
})

describe('after errors, input and ownership', () => {
  it('ignores input after a fatal error', () => {
    const r = run(new BinaryFrameDecoder({ maxFrameBytes: 1 }), [
      encodeHeader(1, 2),
      encodeFrame(1, Buffer.from('a')),
      encodeFrame(1, Buffer.from('b')),
    ])
    expect(r.codes).toEqual(['ERR_FRAME_TOO_LARGE'])
    expect(r.frames).toEqual([])
  })

  it('honours byteOffset of views, and accepts ArrayBuffer and DataView', () => {
    const f = encodeFrame(0x0102, Buffer.from('abc'), 0x0405)
    const backing = Buffer.concat([Buffer.from('junk'), f, Buffer.from('junk')])
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 4, f.length)
    const ab = new Uint8Array(encodeFrame(2, Buffer.from('z'))).buffer
    const padded = Buffer.concat([Buffer.from('xx'), encodeFrame(3, Buffer.from('y'))])
    const dv = new DataView(padded.buffer, padded.byteOffset + 2, 9)
    const r = run(new BinaryFrameDecoder(), [view, ab, dv])
    expect(r.tuples).toEqual([
      [0x0102, 0x0405, '616263'],
      [2, 0, '7a'],
      [3, 0, '79'],
    ])
  })

  it('refuses strings with a TypeError (their encoding would be a guess)', () => {
    const { sink } = collect()
    expect(() => new BinaryFrameDecoder().push('abc' as unknown as Uint8Array, sink)).toThrow(
      TypeError,
    )
  })

  it('returns views by default and owned copies with copy: true', () => {
    const input = Buffer.concat([encodeFrame(1, Buffer.from('abc')), Buffer.alloc(60_000)])
    const views = run(new BinaryFrameDecoder(), [input], false).frames
    const copies = run(new BinaryFrameDecoder({ copy: true }), [input], false).frames
    input.fill(0x7a, 0, 11) // the source reuses its buffer
    expect(views[0]?.payload.toString()).toBe('zzz')
    expect(copies[0]?.payload.toString()).toBe('abc')
    // A copied 3-byte frame does not pin the 60 KiB chunk.
    expect(views[0]?.payload.buffer).toBe(input.buffer)
    expect(copies[0]?.payload.buffer.byteLength).toBeLessThan(input.length)
  })

  it('a frame spanning chunks owns its bytes even without copy', () => {
    const f = encodeFrame(1, Buffer.from('abc'))
    const a = Buffer.from(f.subarray(0, 9))
    const b = Buffer.from(f.subarray(9))
    const r = run(new BinaryFrameDecoder(), [a, b])
    b.fill(0)
    a.fill(0)
    expect(r.frames[0]?.payload.toString()).toBe('abc')
  })

  it('propagates a throw from the sink, counts the frame as delivered, then ignores input', () => {
    const d = new BinaryFrameDecoder()
    const seen: string[] = []
    const sink: DecodeSink<BinaryFrame> = {
      frame: (f) => {
        seen.push(f.payload.toString())
        throw new Error('consumer bug')
      },
      error: () => {},
    }
    const two = Buffer.concat([encodeFrame(1, Buffer.from('a')), encodeFrame(1, Buffer.from('b'))])
    expect(() => d.push(two, sink)).toThrow('consumer bug')
    d.push(encodeFrame(1, Buffer.from('c')), sink)
    expect(seen).toEqual(['a'])
    expect(hex(two.subarray(0, 2))).toBe('0001')
  })
})
