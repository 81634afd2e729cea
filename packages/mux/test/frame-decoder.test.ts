import { decodeAll } from '@verb-tcp/core/codec'
import { checkDecoder } from '@verb-tcp/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type MuxFrame, MuxFrameDecoder } from '../src/wire.ts'
import { frame } from './helpers.ts'

/** Reassembles pieces into whole frames: [streamId, payload hex]. */
function whole(frames: MuxFrame[]): [number, string][] {
  const out: [number, string][] = []
  let cur: Buffer[] = []
  for (const f of frames) {
    if (f.start) cur = []
    cur.push(f.payload)
    const have = cur.reduce((n, b) => n + b.length, 0)
    if (have === f.length) out.push([f.streamId, Buffer.concat(cur).toString('hex')])
  }
  return out
}

describe('MuxFrameDecoder', () => {
  it('golden: asymmetric stream id and length, big-endian', () => {
    const bytes = Buffer.concat([
      Buffer.from([0x00, 0x01, 0x02, 0x03, 0x00, 0x00, 0x00, 0x03]),
      Buffer.from('abc'),
    ])
    const { frames, errors } = decodeAll(new MuxFrameDecoder(), [bytes])
    expect(errors).toEqual([])
    expect(frames).toEqual([
      { streamId: 0x00010203, length: 3, offset: 0, start: true, payload: Buffer.from('abc') },
    ])
    expect(frame(0x00010203, 'abc').equals(bytes)).toBe(true)
  })

  it('emits the first piece at the header, before any payload', () => {
    const d = new MuxFrameDecoder()
    const { frames } = decodeAll(d, [frame(5, Buffer.alloc(10, 1)).subarray(0, 8)], { end: false })
    expect(frames).toEqual([
      { streamId: 5, length: 10, offset: 0, start: true, payload: Buffer.alloc(0) },
    ])
  })

  // The literal input frames: what every chunking must give back.
  const input: [number, Buffer][] = [
    [0, Buffer.from('{"type":"hello"}')],
    [1, Buffer.from('hello')],
    [0x00010203, Buffer.alloc(0)],
    [2, Buffer.alloc(300, 7)],
    [0xffffffff, Buffer.alloc(13, 1)],
    [1, Buffer.from('world')],
  ]
  const stream = Buffer.concat(input.map(([id, payload]) => frame(id, payload)))
  const expected: [number, string][] = input.map(([id, payload]) => [id, payload.toString('hex')])

  it('splits at every byte give the same frames', () => {
    expect(expected).toHaveLength(6)
    for (let i = 0; i <= stream.length; i++) {
      const { frames, errors } = decodeAll(new MuxFrameDecoder(), [
        stream.subarray(0, i),
        stream.subarray(i),
      ])
      expect(errors).toEqual([])
      expect(whole(frames)).toEqual(expected)
    }
    const bytewise = [...stream].map((b) => Buffer.from([b]))
    expect(whole(decodeAll(new MuxFrameDecoder(), bytewise).frames)).toEqual(expected)
  })

  it('random chunkings give the same frames (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 40 }), (sizes) => {
        const chunks: Buffer[] = []
        let at = 0
        for (const n of sizes) {
          if (at >= stream.length) break
          chunks.push(stream.subarray(at, at + n))
          at += n
        }
        chunks.push(stream.subarray(at))
        const { frames, errors } = decodeAll(new MuxFrameDecoder(), chunks)
        expect(errors).toEqual([])
        expect(whole(frames)).toEqual(expected)
      }),
      { numRuns: 200 },
    )
  })

  it('rejects a data frame one byte over the limit, at the header', () => {
    const d = new MuxFrameDecoder({ maxFrameSize: 100 })
    const ok = decodeAll(d, [frame(1, Buffer.alloc(100))])
    expect(ok.errors).toEqual([])
    const bad = decodeAll(new MuxFrameDecoder({ maxFrameSize: 100 }), [
      frame(1, Buffer.alloc(101)).subarray(0, 8),
    ])
    expect(bad.errors[0]).toMatchObject({
      code: 'ERR_FRAME_TOO_LARGE',
      limit: 100,
      declaredLength: 101,
      streamId: 1,
      offset: 0,
    })
  })

  it('rejects an oversized control frame with ERR_MUX_CONTROL_TOO_LARGE', () => {
    const { errors } = decodeAll(new MuxFrameDecoder({ maxControlBytes: 10 }), [
      frame(0, Buffer.alloc(11)),
    ])
    expect(errors[0]).toMatchObject({ code: 'ERR_MUX_CONTROL_TOO_LARGE', declaredLength: 11 })
  })

  it('rejects unknown option keys', () => {
    expect(() => new MuxFrameDecoder({ maxFrameBytes: 10 } as never)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }),
    )
  })

  it('reports a frame cut off by the end of input', () => {
    const cut = frame(1, 'hello').subarray(0, 10)
    expect(decodeAll(new MuxFrameDecoder(), [cut]).errors[0]).toMatchObject({
      code: 'ERR_TRUNCATED_FRAME',
    })
    expect(decodeAll(new MuxFrameDecoder(), [cut.subarray(0, 3)]).errors[0]).toMatchObject({
      code: 'ERR_TRUNCATED_FRAME',
    })
  })

  it('arbitrary bytes: frames or one coded error, never a throw', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        const d = new MuxFrameDecoder({ maxFrameSize: 1024, maxControlBytes: 512 })
        checkDecoder(d, chunks)
      }),
      { numRuns: 300 },
    )
  })
})
