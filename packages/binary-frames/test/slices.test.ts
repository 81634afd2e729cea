import type { ProtocolError } from '@verb-tcp/core'
import { type DecodeSink, MIN_SLICE_BYTES } from '@verb-tcp/core/codec'
import {
  checkDecoder,
  closeAll,
  connectLoopback,
  cutAt,
  everySplit,
  listenLoopback,
} from '@verb-tcp/core/testing'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type BinaryFrame,
  BinaryFrameDecoder,
  BinaryProtocolHandler,
  encodeFrame,
  FILE_TRANSFER,
} from '../src/index.ts'

afterEach(closeAll)

/** Deterministic bytes that differ at every position, so a misplaced piece shows. */
function bytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length)
  let x = seed * 2654435761
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

const joined = (f: BinaryFrame) => Buffer.concat(f.slices ?? [f.payload])

function decode(chunks: Iterable<Buffer>, stopEvery?: number): BinaryFrame[] {
  const d = new BinaryFrameDecoder({ slices: true, maxFrameBytes: 1 << 22 })
  const r = checkDecoder(d, chunks, {
    bufferedBytes: () => d.bufferedBytes,
    ...(stopEvery !== undefined && { stopEvery }),
  })
  expect(r.errors).toEqual([])
  expect(d.bufferedBytes).toBe(0)
  return r.frames
}

describe('slices: true', () => {
  const payloads = [
    Buffer.alloc(0),
    bytes(5, 1),
    bytes(MIN_SLICE_BYTES + 7, 2),
    bytes(3 * MIN_SLICE_BYTES + 1, 3),
    bytes(3, 4),
  ]
  const wire = Buffer.concat(payloads.map((p, k) => encodeFrame(0x0102 + k, p, 0x0304)))

  it('at every split point, every payload (slices joined, and `payload`) equals the input', () => {
    for (const chunks of everySplit(wire)) {
      const frames = decode(chunks)
      expect(frames.map((f) => [f.type, f.flags])).toEqual(
        payloads.map((_, k) => [0x0102 + k, 0x0304]),
      )
      frames.forEach((f, k) => {
        expect(joined(f).equals(payloads[k] as Buffer)).toBe(true)
        expect(f.payload.equals(payloads[k] as Buffer)).toBe(true)
        for (const s of f.slices ?? []) expect(s.length).toBeGreaterThan(0)
      })
    }
  })

  it('at every pair of split points near the large frames, with the sink stopping after each frame', () => {
    // Three chunks: every cut through the header and the first and last bytes of a payload.
    const edges = [0, 8, 13, 21, 30, 4130, 4140, 16430, 16445, wire.length]
    const cuts = [...new Set(edges.flatMap((e) => [e - 2, e - 1, e, e + 1, e + 2]))].filter(
      (c) => c >= 0 && c <= wire.length,
    )
    for (const a of cuts) {
      for (const b of cuts) {
        if (b < a) continue
        const chunks = [wire.subarray(0, a), wire.subarray(a, b), wire.subarray(b)]
        const frames = decode(chunks, 1)
        expect(frames.map((f) => joined(f).toString('hex'))).toEqual(
          payloads.map((p) => p.toString('hex')),
        )
      }
    }
  })

  it('random frames x random chunkings: the same payloads', () => {
    const frameArb = fc.record({
      type: fc.integer({ min: 0, max: 0xffff }),
      flags: fc.integer({ min: 0, max: 0xffff }),
      length: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 4000, max: 40_000 })),
    })
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 8 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 60 }),
        (list, points) => {
          const ps = list.map((f, k) => bytes(f.length, k + 1))
          const wire = Buffer.concat(
            list.map((f, k) => encodeFrame(f.type, ps[k] as Buffer, f.flags)),
          )
          const frames = decode(cutAt(wire, points))
          expect(frames.map((f) => [f.type, f.flags, joined(f).toString('hex')])).toEqual(
            list.map((f, k) => [f.type, f.flags, (ps[k] as Buffer).toString('hex')]),
          )
        },
      ),
      { numRuns: 200, interruptAfterTimeLimit: 8000 },
    )
  })

  it('a 1 MiB payload read in 64 KiB chunks is never copied: its slices are views of the chunks', () => {
    const payload = bytes(1024 * 1024, 9)
    const wire = encodeFrame(FILE_TRANSFER, payload, 3)
    // Fresh chunks, as a socket's reads are, cut off the frame's alignment.
    const cuts = [100]
    while ((cuts.at(-1) as number) + 65_536 < wire.length)
      cuts.push((cuts.at(-1) as number) + 65_536)
    const chunks = cutAt(
      wire,
      cuts.map((c) => c / wire.length),
    ).map((c) => Buffer.from(c))
    const frames = decode(chunks)
    const slices = frames[0]?.slices ?? []
    expect(Buffer.concat(slices).equals(payload)).toBe(true)
    const sources = new Set(chunks.map((c) => c.buffer))
    // Only the short piece at the start (92 bytes after the header) is copied.
    expect(
      slices.filter((s) => !sources.has(s.buffer as ArrayBuffer)).map((s) => s.length),
    ).toEqual([92])
    expect(slices.length).toBe(chunks.length)
  })

  it('a payload dribbled a byte per chunk is merged into a few pieces, memory following the bytes', () => {
    const payload = bytes(40_000, 5)
    const wire = encodeFrame(1, payload)
    const d = new BinaryFrameDecoder({ slices: true })
    const frames: BinaryFrame[] = []
    const sink: DecodeSink<BinaryFrame> = { frame: (f) => frames.push(f), error: () => {} }
    for (let i = 0; i < wire.length; i++) {
      d.push(wire.subarray(i, i + 1), sink)
      expect(d.bufferedBytes).toBeLessThanOrEqual(Math.max(0, i - 7) + 16 * 1024)
    }
    expect(frames[0]?.slices?.length).toBe(3)
    expect(joined(frames[0] as BinaryFrame).equals(payload)).toBe(true)
  })

  it('frames inside one chunk are views with no slices; the default mode never sets slices', () => {
    const wire = Buffer.concat([encodeFrame(1, bytes(10, 1)), encodeFrame(2, bytes(9000, 2))])
    const inOne = decode([wire])
    expect(inOne.map((f) => f.slices)).toEqual([undefined, undefined])
    const d = new BinaryFrameDecoder()
    const r = checkDecoder(d, [wire.subarray(0, 100), wire.subarray(100)])
    expect(r.frames.map((f) => f.slices)).toEqual([undefined, undefined])
  })

  it('copy and slices together are refused', () => {
    expect(() => new BinaryFrameDecoder({ copy: true, slices: true })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    )
    expect(() => new BinaryFrameDecoder({ slices: 'yes' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    )
  })

  it('a handler with slices: true over loopback delivers a large payload as its pieces', async () => {
    const payload = bytes(700_000, 7)
    const got: BinaryFrame[] = []
    const errors: ProtocolError[] = []
    const port = await listenLoopback((socket) => {
      const h = new BinaryProtocolHandler(socket, { slices: true })
      h.on('error', (e) => errors.push(e))
      h.on(FILE_TRANSFER, (f) => {
        got.push(f)
        h.sendBinaryMessage(FILE_TRANSFER, Buffer.from('ok'))
      })
    })
    const client = await connectLoopback(port)
    const h = new BinaryProtocolHandler(client)
    const answered = new Promise((resolve) => h.once(FILE_TRANSFER, resolve))
    h.sendBinaryMessage(FILE_TRANSFER, payload, 7)
    await answered
    expect(errors).toEqual([])
    expect(got).toHaveLength(1)
    expect(got[0]?.flags).toBe(7)
    expect(joined(got[0] as BinaryFrame).equals(payload)).toBe(true)
  })
})
