import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ProtocolError } from '@verb-tcp/core'
import { describe, expect, it } from 'vitest'
import {
  type BinaryFrame,
  createBinaryFrameStream,
  createBinaryFrameTransform,
  encodeFrame,
  encodeHeader,
  iterateBinaryFrames,
} from '../src/index.ts'

const wire = Buffer.concat([
  encodeFrame(1, Buffer.from('a')),
  encodeFrame(0x0102, Buffer.from('bcd'), 0x0405),
  encodeFrame(3, Buffer.alloc(0)),
])
const pieces = [wire.subarray(0, 5), wire.subarray(5, 17), wire.subarray(17)]
const expected = [
  [1, 0, 'a'],
  [0x0102, 0x0405, 'bcd'],
  [3, 0, ''],
]
const tuple = (f: BinaryFrame) => [f.type, f.flags, f.payload.toString()]

describe('adapters from core (3.4)', () => {
  it('iterates frames one at a time and in batches; one object per frame', async () => {
    const one: BinaryFrame[] = []
    for await (const f of iterateBinaryFrames(Readable.from(pieces))) one.push(f)
    expect(one.map(tuple)).toEqual(expected)
    const batches: BinaryFrame[][] = []
    for await (const b of iterateBinaryFrames(Readable.from([wire]), { batch: true }))
      batches.push(b)
    expect(batches).toHaveLength(1)
    expect(batches.flat().map(tuple)).toEqual(expected)
  })

  it('decodes through a Node Transform (object mode) and a Web TransformStream', async () => {
    const out: BinaryFrame[] = []
    const transform = createBinaryFrameTransform({ readableHighWaterMark: 2 })
    expect(transform.readableObjectMode).toBe(true)
    expect(transform.readableHighWaterMark).toBe(2)
    await pipeline(
      Readable.from(pieces),
      transform,
      new Writable({
        objectMode: true,
        write: (f, _e, cb) => {
          out.push(f)
          cb()
        },
      }),
    )
    const web: BinaryFrame[] = []
    const stream = ReadableStream.from(pieces).pipeThrough(createBinaryFrameStream())
    for await (const f of stream as unknown as AsyncIterable<BinaryFrame>) web.push(f)
    expect(out.map(tuple)).toEqual(expected)
    expect(web.map(tuple)).toEqual(expected)
  })

  it('errors reject next() after the frames before them, never a throw from write', async () => {
    const src = Readable.from([encodeFrame(1, Buffer.from('x')), encodeHeader(1, 2 ** 32 - 1)])
    const frames: BinaryFrame[] = []
    const err = await (async () => {
      for await (const f of iterateBinaryFrames(src)) frames.push(f)
    })().catch((e: ProtocolError) => e)
    expect(frames.map(tuple)).toEqual([[1, 0, 'x']])
    expect((err as ProtocolError).code).toBe('ERR_FRAME_TOO_LARGE')

    const t = createBinaryFrameTransform()
    expect(() => t.write(encodeHeader(1, 2 ** 32 - 1))).not.toThrow()
    const [streamErr] = await new Promise<ProtocolError[]>((r) =>
      t.once('error', (e) => r([e as ProtocolError])),
    )
    expect(streamErr?.code).toBe('ERR_FRAME_TOO_LARGE')
  })

  it('reports a partial frame at the end as ERR_TRUNCATED_FRAME in every adapter', async () => {
    const partial = [wire.subarray(0, 12)]
    const iterErr = await (async () => {
      for await (const _ of iterateBinaryFrames(Readable.from(partial))) {
      }
    })().catch((e: ProtocolError) => e)
    expect((iterErr as ProtocolError).code).toBe('ERR_TRUNCATED_FRAME')
    const nodeErr = await pipeline(
      Readable.from(partial),
      createBinaryFrameTransform(),
      new Writable({ objectMode: true, write: (_f, _e, cb) => cb() }),
    ).catch((e: ProtocolError) => e)
    expect((nodeErr as ProtocolError).code).toBe('ERR_TRUNCATED_FRAME')
    const webErr = await (async () => {
      const s = ReadableStream.from(partial).pipeThrough(createBinaryFrameStream())
      for await (const _ of s as unknown as AsyncIterable<BinaryFrame>) {
      }
    })().catch((e: ProtocolError) => e)
    expect((webErr as ProtocolError).code).toBe('ERR_TRUNCATED_FRAME')
  })

  it('recoverable errors go to onRecoverableError and decoding goes on', async () => {
    const seen: string[] = []
    const src = Readable.from([
      encodeFrame(9, Buffer.from('zz')),
      encodeFrame(1, Buffer.from('ok')),
    ])
    const frames: BinaryFrame[] = []
    for await (const f of iterateBinaryFrames(src, {
      types: [1],
      onRecoverableError: (e) => seen.push(e.code),
    }))
      frames.push(f)
    expect(seen).toEqual(['ERR_UNKNOWN_TYPE'])
    expect(frames.map(tuple)).toEqual([[1, 0, 'ok']])
  })

  it('breaking out of the loop releases the source', async () => {
    const many = Array.from({ length: 100 }, (_, i) => encodeFrame(1, Buffer.from(String(i))))
    const src = Readable.from(many)
    for await (const _ of iterateBinaryFrames(src)) break
    expect(src.destroyed).toBe(true)
  })

  it('cancelling the Web stream cancels its source; aborting the writable side errors the readable', async () => {
    let cancelled: unknown
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(encodeFrame(1, Buffer.from('x')))
      },
      cancel(reason) {
        cancelled = reason
      },
    })
    const reader = source.pipeThrough(createBinaryFrameStream()).getReader()
    const first = await reader.read()
    expect(first.value?.type).toBe(1)
    await reader.cancel('enough')
    // pipeThrough passes the cancel on to the source asynchronously.
    for (let i = 0; i < 100 && cancelled === undefined; i++) await new Promise(setImmediate)
    expect(cancelled).toBe('enough')

    const stream = createBinaryFrameStream()
    const writer = stream.writable.getWriter()
    const frames = stream.readable.getReader()
    await writer.abort(new Error('gone'))
    await expect(frames.read()).rejects.toThrow('gone')
  })

  it('a Transform does not take more input while its frames are not read', async () => {
    const t = createBinaryFrameTransform({ readableHighWaterMark: 4 })
    const frame = encodeFrame(1, Buffer.from('x'))
    for (let i = 0; i < 100; i++) t.write(frame)
    // Nobody reads: the transform stops taking chunks once the frames fill its readable side;
    // the rest wait as bytes on the writable side, not as decoded frames.
    expect(t.readableLength).toBeLessThanOrEqual(5)
    expect(t.writableLength).toBeGreaterThan(90 * frame.length)
    t.destroy()
  })
})
