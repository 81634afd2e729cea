// attachDecoder bounds the work one source causes per event-loop turn: after maxFramesPerTurn
// frames it pauses until the next turn, and replies to one chunk's frames leave in one write.
import { Duplex, PassThrough } from 'node:stream'
import { expect, it } from 'vitest'
import { attachDecoder } from '../../src/codec/attach.ts'
import type { SyncDecoder } from '../../src/codec/decoder.ts'

/** Every byte is a frame. */
const bytes = (): SyncDecoder<number> => ({
  push(chunk, sink) {
    for (const b of chunk as Uint8Array) sink.frame(b)
  },
  end() {},
})

const turn = () => new Promise((r) => setImmediate(r))

it('pauses for one turn after maxFramesPerTurn frames, then goes on', async () => {
  const source = new PassThrough()
  const seen: number[] = []
  attachDecoder(
    source,
    bytes(),
    { frame: (b) => void seen.push(b), error: () => {} },
    {
      maxFramesPerTurn: 4,
    },
  )
  source.write(Buffer.from([1, 2, 3, 4, 5]))
  source.write(Buffer.from([6]))
  await new Promise((r) => process.nextTick(r))
  await new Promise((r) => process.nextTick(r))
  // The first chunk spent the budget: the second waits for the next turn.
  expect(seen).toEqual([1, 2, 3, 4, 5])
  expect(source.isPaused()).toBe(true)
  for (let i = 0; i < 5 && seen.length < 6; i++) await turn()
  expect(seen).toEqual([1, 2, 3, 4, 5, 6])
})

it('writes the replies to one chunk in one write (the socket is corked meanwhile)', async () => {
  const writes: number[] = []
  const duplex = new Duplex({
    read() {},
    writev(chunks, cb) {
      writes.push(chunks.length)
      cb()
    },
    write(_chunk, _enc, cb) {
      writes.push(1)
      cb()
    },
  })
  attachDecoder(duplex, bytes(), {
    frame: (b) => void duplex.write(Buffer.from([b])),
    error: () => {},
  })
  duplex.push(Buffer.from([1, 2, 3]))
  await turn()
  expect(writes).toEqual([3])
})

it('validates maxFramesPerTurn', () => {
  expect(() =>
    attachDecoder(
      new PassThrough(),
      bytes(),
      { frame: () => {}, error: () => {} },
      {
        maxFramesPerTurn: 0,
      },
    ),
  ).toThrow(RangeError)
})
