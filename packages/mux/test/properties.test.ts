import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import type { MuxSession, MuxStream } from '../src/index.ts'
import { bytes, closeAll, sessionPair, until } from './helpers.ts'

afterEach(closeAll)

type Op =
  | { op: 'open'; side: 0 | 1 }
  | { op: 'write'; stream: number; size: number }
  | { op: 'end'; stream: number }
  | { op: 'reset'; stream: number }
  | { op: 'tick' }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('open' as const),
      side: fc.constantFrom(0 as const, 1 as const),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('write' as const),
      stream: fc.nat(30),
      size: fc.integer({ min: 0, max: 40_000 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('end' as const), stream: fc.nat(30) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reset' as const), stream: fc.nat(30) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('tick' as const) }) },
)

interface Received {
  chunks: Buffer[]
  ended: boolean
  closed: boolean
}

function collect(session: MuxSession, into: Map<string, Received>, side: number) {
  session.on('stream', (s: MuxStream) => {
    const r: Received = { chunks: [], ended: false, closed: false }
    into.set(`${1 - side}:${s.id}`, r)
    s.on('data', (c: Buffer) => r.chunks.push(Buffer.from(c)))
    s.on('end', () => {
      r.ended = true
    })
    s.on('close', () => {
      r.closed = true
    })
    s.on('error', () => {})
    s.end() // we only receive on streams the peer opened
  })
}

describe('random interleavings (fast-check)', () => {
  it('deliver every byte in order per stream; reset streams deliver a prefix', async () => {
    let verified = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 80, size: 'medium' }),
        fc.constantFrom(undefined, 1000, 7919),
        async (ops, split) => {
          const { dialler, acceptor } = sessionPair(
            { initialWindow: 16 * 1024, maxWindow: 64 * 1024, maxFrameSize: 16 * 1024 },
            undefined,
            split === undefined ? {} : { split },
          )
          const sides = [dialler, acceptor]
          const received = new Map<string, Received>()
          collect(dialler, received, 0)
          collect(acceptor, received, 1)
          const streams: { s: MuxStream; side: number; sent: Buffer[]; reset: boolean }[] = []
          let salt = 1
          for (const op of ops) {
            if (op.op === 'open') {
              const s = (sides[op.side] as MuxSession).open('t', { n: streams.length })
              s.on('error', () => {})
              s.resume()
              streams.push({ s, side: op.side, sent: [], reset: false })
              continue
            }
            if (op.op === 'tick') {
              await new Promise((r) => setImmediate(r))
              continue
            }
            const entry = streams[op.stream % Math.max(1, streams.length)]
            if (entry === undefined || entry.reset || entry.s.writableEnded) continue
            if (op.op === 'write') {
              const b = bytes(op.size, salt++)
              entry.sent.push(b)
              entry.s.write(b)
            } else if (op.op === 'end') {
              entry.s.end()
            } else {
              entry.reset = true
              entry.s.destroy()
            }
          }
          for (const e of streams) if (!e.reset) e.s.end()
          await until(
            () =>
              streams.every((e) => {
                const r = received.get(`${e.side}:${e.s.id}`)
                return e.reset ? r === undefined || r.closed : r?.ended === true
              }),
            { turns: 50_000 },
          )
          for (const e of streams) {
            const r = received.get(`${e.side}:${e.s.id}`)
            const sent = Buffer.concat(e.sent)
            const got = Buffer.concat(r?.chunks ?? [])
            if (e.reset) expect(sent.subarray(0, got.length).equals(got)).toBe(true)
            else expect(got.equals(sent)).toBe(true)
            verified += got.length
          }
          dialler.destroy()
          acceptor.destroy()
        },
      ),
      { numRuns: 60 },
    )
    expect(verified).toBeGreaterThan(0)
  })
})
