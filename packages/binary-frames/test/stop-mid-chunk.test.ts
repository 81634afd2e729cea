// The decoder stops mid-chunk when its sink asks (attachDecoder's batch or turn budget is spent)
// and goes on from the rest of the chunk: at every split point and after every frame, the same
// frames and errors come out as from an uninterrupted decode.
import { decodeAll } from '@verb-tcp/core/codec'
import { checkDecoder, cutAt, everySplit } from '@verb-tcp/core/testing'
import fc from 'fast-check'
import { expect, it } from 'vitest'
import {
  type BinaryFrame,
  BinaryFrameDecoder,
  encodeFrame,
  encodeHeader,
  type FrameDecoderOptions,
} from '../src/index.ts'

const plain = (f: BinaryFrame) => [f.type, f.flags, Buffer.from(f.payload).toString('hex')]
const outcome = (r: { frames: BinaryFrame[]; errors: { code: string; offset?: unknown }[] }) => ({
  frames: r.frames.map(plain),
  errors: r.errors.map((e) => `${e.code}@${String(e.offset)}`),
})

const OPTIONS: FrameDecoderOptions = {
  maxFrameBytes: 16,
  oversize: 'skip',
  types: [1, 2, 3],
  allowedFlags: 0x00ff,
}

// Heartbeats, a payload that spans chunks at many splits, a refused type, a refused flag, an
// oversize frame that is skipped, an empty payload last.
const wire = Buffer.concat([
  encodeFrame(1, Buffer.alloc(0)),
  encodeFrame(1, Buffer.alloc(0)),
  encodeFrame(3, Buffer.from('0123456789abcdef'), 0x0001),
  encodeFrame(9, Buffer.from('no')),
  encodeFrame(2, Buffer.from('x'), 0x0100),
  encodeFrame(3, Buffer.alloc(40, 7)),
  encodeFrame(2, Buffer.from('after')),
  encodeFrame(1, Buffer.alloc(0)),
])

it('stopping after every n-th frame or error, at every split, changes nothing', () => {
  const expected = outcome(decodeAll(new BinaryFrameDecoder(OPTIONS), [wire]))
  expect(expected.frames).toHaveLength(5)
  expect(expected.errors).toHaveLength(3)
  for (const chunks of everySplit(wire)) {
    for (const stopEvery of [1, 2, 3, 7]) {
      const r = checkDecoder(new BinaryFrameDecoder(OPTIONS), chunks, { stopEvery })
      expect(outcome(r)).toEqual(expected)
    }
  }
})

it('a stopped push reports the end of the frame it stopped after', () => {
  const d = new BinaryFrameDecoder()
  const frames: BinaryFrame[] = []
  const used = d.push(wire.subarray(0, 16 + 24), {
    frame: (f) => {
      frames.push(f)
      return frames.length < 2
    },
    error: () => {},
  })
  expect(used).toBe(16)
  expect(d.position).toBe(16)
})

it('random frames x random chunkings x random stops decode the same', () => {
  const frame = fc
    .record({
      type: fc.integer({ min: 0, max: 5 }),
      flags: fc.constantFrom(0, 1, 0x0100),
      payload: fc.uint8Array({ maxLength: 40 }),
    })
    .map((f) => encodeFrame(f.type, f.payload, f.flags))
  const junk = fc.constantFrom(encodeHeader(1, 2 ** 31, 0), Buffer.from([0, 1, 0]))
  fc.assert(
    fc.property(
      fc.array(fc.oneof(frame, frame, frame, junk), { maxLength: 30 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 20 }),
      fc.integer({ min: 1, max: 6 }),
      fc.boolean(),
      (pieces, points, stopEvery, strict) => {
        const bytes = Buffer.concat(pieces)
        const options = strict ? OPTIONS : { maxFrameBytes: 32 }
        const expected = outcome(decodeAll(new BinaryFrameDecoder(options), [bytes]))
        const d = new BinaryFrameDecoder(options)
        const r = checkDecoder(d, cutAt(bytes, points), {
          stopEvery,
          bufferedBytes: () => d.bufferedBytes,
          maxBufferedBytes: 40,
        })
        expect(outcome(r)).toEqual(expected)
      },
    ),
    { numRuns: 500, interruptAfterTimeLimit: 8000 },
  )
})
