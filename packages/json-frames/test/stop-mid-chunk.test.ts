// The decoders stop mid-chunk when their sink asks (attachDecoder's batch or turn budget is
// spent) and go on from the rest of the chunk: at every split point and after every frame, the
// same frames and errors come out as from an uninterrupted decode.
import { decodeAll, type SyncDecoder } from '@verb-tcp/core/codec'
import { checkDecoder, cutAt, everySplit } from '@verb-tcp/core/testing'
import fc from 'fast-check'
import { expect, it } from 'vitest'
import { encodeFrame, encodeMessage, FrameDecoder, MessageDecoder } from '../src/index.ts'

const outcome = (r: { frames: unknown[]; errors: { code: string; offset?: unknown }[] }) => ({
  frames: JSON.stringify(r.frames),
  errors: r.errors.map((e) => `${e.code}@${String(e.offset)}`),
})

// Pings, a message with multi-byte characters, bad JSON, bad UTF-8, an oversize frame that is
// skipped, an empty payload, then more pings.
const wire = Buffer.concat([
  encodeMessage({ type: 'ping', id: 1 }),
  encodeMessage({ type: 'ping', id: 2 }),
  encodeMessage({ s: '€𝄞é' }),
  encodeFrame(Buffer.from('{nope')),
  encodeFrame(Buffer.from([0x22, 0xff, 0x22])),
  encodeFrame(Buffer.alloc(80, 0x20)),
  Buffer.from('0\n'),
  encodeMessage({ type: 'ping', id: 3 }),
  encodeMessage(4),
])

const decoders: [string, () => SyncDecoder<unknown>][] = [
  ['MessageDecoder', () => new MessageDecoder({ maxFrameBytes: 64, oversize: 'skip' })],
  ['FrameDecoder', () => new FrameDecoder({ maxFrameBytes: 64, oversize: 'skip' })],
]

for (const [name, make] of decoders) {
  it(`${name}: stopping after every n-th frame or error, at every split, changes nothing`, () => {
    const expected = outcome(decodeAll(make(), [wire]))
    for (const chunks of everySplit(wire)) {
      for (const stopEvery of [1, 2, 3, 5]) {
        expect(outcome(checkDecoder(make(), chunks, { stopEvery }))).toEqual(expected)
      }
    }
  })
}

it('a stopped push reports the end of the frame it stopped after', () => {
  const d = new MessageDecoder()
  const first = encodeMessage({ type: 'ping', id: 1 })
  const used = d.push(wire, { frame: () => false, error: () => {} })
  expect(used).toBe(first.length)
  expect(d.position).toBe(first.length)
})

it('random messages x random chunkings x random stops decode the same', () => {
  const piece = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }).map((v) => encodeMessage(v)),
    fc.constantFrom(
      encodeFrame(Buffer.from('{')),
      Buffer.from('0\n'),
      encodeFrame(Buffer.alloc(70)),
    ),
  )
  fc.assert(
    fc.property(
      fc.array(piece, { maxLength: 20 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 20 }),
      fc.integer({ min: 1, max: 6 }),
      (pieces, points, stopEvery) => {
        const bytes = Buffer.concat(pieces)
        for (const [, make] of decoders) {
          const expected = outcome(decodeAll(make(), [bytes]))
          expect(outcome(checkDecoder(make(), cutAt(bytes, points), { stopEvery }))).toEqual(
            expected,
          )
        }
      },
    ),
    { numRuns: 300, interruptAfterTimeLimit: 8000 },
  )
})
