import type { ProtocolError } from '@verb-tcp/core'
import type { DecodeSink } from '@verb-tcp/core/codec'
import { checkDecoder, cutAt } from '@verb-tcp/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeMessage, FrameDecoder, MessageDecoder } from '../src/index.ts'

const LIMIT = 256

const json = fc.jsonValue({ maxDepth: 3 }).filter((v) => encodeMessage(v).length < 4000)
const fractions = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 })

describe('properties', () => {
  it('random messages x random chunkings decode to the same messages', () => {
    fc.assert(
      fc.property(fc.array(json, { maxLength: 20 }), fractions, (messages, points) => {
        const wire = Buffer.concat(messages.map((m) => encodeMessage(m)))
        const d = new MessageDecoder()
        const frames: unknown[] = []
        const errors: ProtocolError[] = []
        const sink: DecodeSink<unknown> = {
          frame: (f) => frames.push(f),
          error: (e) => errors.push(e),
        }
        for (const c of cutAt(wire, points)) d.push(c, sink)
        d.end(sink)
        expect(errors).toEqual([])
        // JSON has no -0 and no undefined in arrays: compare through JSON.
        expect(JSON.stringify(frames)).toBe(JSON.stringify(messages))
      }),
      { numRuns: 300, interruptAfterTimeLimit: 8000 },
    )
  })

  it('1-byte chunks decode the same messages', () => {
    fc.assert(
      fc.property(fc.array(json, { maxLength: 5 }), (messages) => {
        const wire = Buffer.concat(messages.map((m) => encodeMessage(m)))
        const d = new MessageDecoder()
        const frames: unknown[] = []
        const sink: DecodeSink<unknown> = { frame: (f) => frames.push(f), error: () => {} }
        for (let i = 0; i < wire.length; i++) d.push(wire.subarray(i, i + 1), sink)
        d.end(sink)
        expect(JSON.stringify(frames)).toBe(JSON.stringify(messages))
      }),
      { numRuns: 100, interruptAfterTimeLimit: 5000 },
    )
  })

  it('arbitrary bytes give frames or coded errors only, never a throw, never memory past the limit', () => {
    // Bias towards digits and LF so headers are often valid and payloads get buffered.
    const byte = fc.oneof(
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom(0x0a, 0x30, 0x31, 0x32, 0x35, 0x39),
    )
    const bytes = fc.array(byte, { maxLength: 2000 }).map((a) => Buffer.from(a))
    fc.assert(
      fc.property(bytes, fractions, fc.boolean(), (wire, points, skip) => {
        for (const d of [
          new FrameDecoder({ maxFrameBytes: LIMIT, oversize: skip ? 'skip' : 'error' }),
          new MessageDecoder({ maxFrameBytes: LIMIT, oversize: skip ? 'skip' : 'error' }),
        ]) {
          const buffered = { bufferedBytes: () => d.bufferedBytes, maxBufferedBytes: LIMIT }
          checkDecoder<unknown>(d, cutAt(wire, points), buffered)
        }
      }),
      { numRuns: 500, interruptAfterTimeLimit: 8000 },
    )
  })
})
