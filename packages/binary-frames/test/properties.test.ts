import type { ProtocolError } from '@verb-tcp/core'
import type { DecodeSink } from '@verb-tcp/core/codec'
import { checkDecoder, cutAt } from '@verb-tcp/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type BinaryFrame, BinaryFrameDecoder, encodeFrame, encodeHeader } from '../src/index.ts'

const LIMIT = 256

const frameArb = fc.record({
  type: fc.integer({ min: 0, max: 0xffff }),
  flags: fc.integer({ min: 0, max: 0xffff }),
  payload: fc.uint8Array({ maxLength: 300 }),
})
const fractions = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 })

const plain = (f: BinaryFrame) => ({ type: f.type, flags: f.flags, payload: [...f.payload] })

describe('properties', () => {
  it('random frames x random chunkings decode to the same frames, with views, copies or slices', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 20 }),
        fractions,
        fc.constantFrom('view', 'copy', 'slices'),
        (list, points, mode) => {
          const wire = Buffer.concat(list.map((f) => encodeFrame(f.type, f.payload, f.flags)))
          const d = new BinaryFrameDecoder({ copy: mode === 'copy', slices: mode === 'slices' })
          const frames: BinaryFrame[] = []
          const errors: ProtocolError[] = []
          const sink: DecodeSink<BinaryFrame> = {
            frame: (f) => frames.push(f),
            error: (e) => errors.push(e),
          }
          for (const c of cutAt(wire, points)) d.push(c, sink)
          d.end(sink)
          expect(errors).toEqual([])
          expect(frames.map(plain)).toEqual(
            list.map((f) => ({ type: f.type, flags: f.flags, payload: [...f.payload] })),
          )
          expect(d.bufferedBytes).toBe(0)
        },
      ),
      { numRuns: 300, interruptAfterTimeLimit: 8000 },
    )
  })

  it('1-byte chunks decode the same frames', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 5 }), (list) => {
        const wire = Buffer.concat(list.map((f) => encodeFrame(f.type, f.payload, f.flags)))
        const d = new BinaryFrameDecoder()
        const frames: BinaryFrame[] = []
        const sink: DecodeSink<BinaryFrame> = { frame: (f) => frames.push(f), error: () => {} }
        for (let i = 0; i < wire.length; i++) d.push(wire.subarray(i, i + 1), sink)
        d.end(sink)
        expect(frames.map(plain)).toEqual(
          list.map((f) => ({ type: f.type, flags: f.flags, payload: [...f.payload] })),
        )
      }),
      { numRuns: 100, interruptAfterTimeLimit: 5000 },
    )
  })

  it('arbitrary bytes give frames or coded errors only, never a throw, never memory past the limit', () => {
    // Mix raw bytes with plausible headers (small, at-limit and huge lengths) so that payloads
    // do get buffered and skipped.
    const piece = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc
        .record({
          type: fc.integer({ min: 0, max: 0xffff }),
          length: fc.oneof(
            fc.integer({ min: 0, max: LIMIT + 1 }),
            fc.constantFrom(2 ** 31, 2 ** 32 - 1),
          ),
          flags: fc.integer({ min: 0, max: 0xffff }),
        })
        .map((h) => encodeHeader(h.type, h.length, h.flags)),
    )
    const bytes = fc.array(piece, { maxLength: 40 }).map((a) => Buffer.concat(a))
    fc.assert(
      fc.property(bytes, fractions, fc.boolean(), fc.boolean(), (wire, points, skip, strict) => {
        const d = new BinaryFrameDecoder({
          maxFrameBytes: LIMIT,
          oversize: skip ? 'skip' : 'error',
          ...(strict ? { types: [1, 2, 0x10], allowedFlags: 0x00ff } : {}),
        })
        const { frames } = checkDecoder(d, cutAt(wire, points), {
          bufferedBytes: () => d.bufferedBytes,
          maxBufferedBytes: LIMIT,
        })
        for (const f of frames) expect(f.payload.length).toBeLessThanOrEqual(LIMIT)
      }),
      { numRuns: 500, interruptAfterTimeLimit: 8000 },
    )
  })
})
