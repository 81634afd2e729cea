import { PassThrough, Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { attachDecoder } from '../../src/codec/attach.ts'
import { decodeAll, toBuffer } from '../../src/codec/decoder.ts'
import { hexPreview, TruncatedFrameError } from '../../src/codec/errors.ts'
import { iterateFrames } from '../../src/codec/iterate.ts'
import { PayloadBuffer } from '../../src/codec/payload-buffer.ts'
import { createDecoderTransform } from '../../src/codec/transform.ts'
import { createDecoderStream } from '../../src/codec/web-stream.ts'
import type { ProtocolError } from '../../src/errors.ts'
import { isProtocolError } from '../../src/errors.ts'
import { stalledDuplex } from './stalled-duplex.ts'
import { ToyDecoder, toy } from './toy-decoder.ts'

const cleanup: (() => void)[] = []
afterEach(() => {
  for (const f of cleanup.splice(0)) f()
})

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

async function* chunks(...list: Buffer[]) {
  yield* list
}

describe('helpers', () => {
  it('toBuffer honours byteOffset and accepts ArrayBuffer and DataView', () => {
    const b = Buffer.from('xxabcxx')
    expect(toBuffer(new Uint8Array(b.buffer, b.byteOffset + 2, 3)).toString()).toBe('abc')
    expect(toBuffer(new DataView(b.buffer, b.byteOffset + 2, 3)).toString()).toBe('abc')
    expect(toBuffer(new Uint8Array([0x61]).buffer).toString()).toBe('a')
    expect(() => toBuffer('abc' as never)).toThrow(TypeError)
  })

  it('decodeAll collects frames and errors in order', () => {
    const r = decodeAll(new ToyDecoder(), [toy('a', '!x', 'b')])
    expect(r.frames).toEqual(['a', 'b'])
    expect(r.errors.map((e) => e.code)).toEqual(['ERR_TOY_BAD'])
  })

  it('TruncatedFrameError carries the counts and is a ProtocolError', () => {
    const e = new TruncatedFrameError(10, 3, { offset: 7 })
    expect(isProtocolError(e)).toBe(true)
    expect(e).toMatchObject({
      code: 'ERR_TRUNCATED_FRAME',
      expected: 10,
      received: 3,
      declaredLength: 10,
      offset: 7,
    })
    expect(new TruncatedFrameError(undefined, 2).message).toContain('header')
  })

  it('hexPreview shows at most max bytes', () => {
    expect(hexPreview(Buffer.from('GET /'), 4)).toBe('47 45 54 20 …')
  })

  it('PayloadBuffer presizes small payloads and grows large ones with the bytes received', () => {
    const small = new PayloadBuffer(100, 10)
    expect(small.capacity).toBe(100)
    const big = new PayloadBuffer(10_000_000, 0)
    expect(big.capacity).toBe(0)
    big.append(Buffer.alloc(1000), 0, 1000)
    expect(big.capacity).toBeLessThanOrEqual(64 * 1024)
    for (let i = 0; i < 9999; i++) big.append(Buffer.alloc(1000, i & 0xff), 0, 1000)
    expect(big.complete).toBe(true)
    expect(big.take().length).toBe(10_000_000)
    expect(big.take()[9_999_999]).toBe(9998 & 0xff)
  })
})

describe('Transform adapter', () => {
  it('emits one object per frame, never merged', async () => {
    const out: string[] = []
    await pipeline(
      Readable.from([toy('a', 'bc'), toy('d').subarray(0, 1), toy('d').subarray(1)]),
      createDecoderTransform(new ToyDecoder()),
      new Writable({
        objectMode: true,
        write(f, _e, cb) {
          out.push(f)
          cb()
        },
      }),
    )
    expect(out).toEqual(['a', 'bc', 'd'])
  })

  it('fails through the callback with the coded error, frames before it delivered', async () => {
    const out: string[] = []
    const err = await pipeline(
      Readable.from([Buffer.concat([toy('a'), Buffer.from([0xff]), toy('b')])]),
      createDecoderTransform(new ToyDecoder()),
      new Writable({
        objectMode: true,
        write: (f, _e, cb) => {
          out.push(f)
          cb()
        },
      }),
    ).catch((e: ProtocolError) => e)
    expect(out).toEqual(['a'])
    expect((err as ProtocolError).code).toBe('ERR_TOY_FATAL')
  })

  it('reports a partial frame at the end as ERR_TRUNCATED_FRAME', async () => {
    const t = createDecoderTransform(new ToyDecoder())
    const err = await pipeline(
      Readable.from([toy('abc').subarray(0, 2)]),
      t,
      new PassThrough({ objectMode: true }),
    ).catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_TRUNCATED_FRAME', expected: 4, received: 2 })
  })

  it('treats a recoverable error as fatal unless onRecoverableError is given', async () => {
    const sink = () => new Writable({ objectMode: true, write: (_f, _e, cb) => cb() })
    const strict = await pipeline(
      Readable.from([toy('a', '!x', 'b')]),
      createDecoderTransform(new ToyDecoder()),
      sink(),
    ).catch((e) => e)
    expect(strict.code).toBe('ERR_TOY_BAD')
    const seen: string[] = []
    const out: string[] = []
    await pipeline(
      Readable.from([toy('a', '!x', 'b')]),
      createDecoderTransform(new ToyDecoder(), { onRecoverableError: (e) => seen.push(e.code) }),
      new Writable({
        objectMode: true,
        write: (f, _e, cb) => {
          out.push(f)
          cb()
        },
      }),
    )
    expect(seen).toEqual(['ERR_TOY_BAD'])
    expect(out).toEqual(['a', 'b'])
  })

  it('reports null frames as ERR_NULL_FRAME instead of ending the stream', async () => {
    const nulls = {
      push: (_c: unknown, sink: { frame(v: null): void }) => sink.frame(null),
      end: () => {},
    }
    const err = await pipeline(
      Readable.from([Buffer.from('x')]),
      createDecoderTransform(nulls),
      new PassThrough({ objectMode: true }),
    ).catch((e) => e)
    expect(err.code).toBe('ERR_NULL_FRAME')
  })

  it('stops taking input while its readable side is over the high-water mark (counted in frames)', () => {
    const t = createDecoderTransform(new ToyDecoder(), { readableHighWaterMark: 4 })
    cleanup.push(() => t.destroy())
    for (let i = 0; i < 100; i++) t.write(toy('a', 'b', 'c'))
    // Decoding stopped after the chunk that crossed the mark; the rest waits as bytes.
    expect(t.readableLength).toBeLessThanOrEqual(4 + 3)
    expect(t.writableLength).toBeGreaterThan(0)
  })

  it('ignores writes after an error without double callbacks', async () => {
    const t = createDecoderTransform(new ToyDecoder())
    const errors: unknown[] = []
    t.on('error', (e) => errors.push(e))
    t.write(Buffer.from([0xff]))
    await new Promise((r) => setImmediate(r))
    t.write(toy('a'), () => {})
    await new Promise((r) => setImmediate(r))
    expect(errors.length).toBe(1)
  })
})

describe('async iterator adapter', () => {
  it('yields frames from an async iterable, one per frame', async () => {
    const src = chunks(toy('a', 'b'), toy('c').subarray(0, 1), toy('c').subarray(1))
    expect(await collect(iterateFrames(src, new ToyDecoder()))).toEqual(['a', 'b', 'c'])
  })

  it('batch mode yields the frames of each chunk as one non-empty array', async () => {
    const src = chunks(toy('a', 'b'), toy('cd').subarray(0, 1), toy('cd').subarray(1), toy('e'))
    expect(await collect(iterateFrames(src, new ToyDecoder(), { batch: true }))).toEqual([
      ['a', 'b'],
      ['cd'],
      ['e'],
    ])
  })

  it('never merges frames, even from a byte-mode Readable with many buffered chunks', async () => {
    const r = new PassThrough()
    for (let i = 0; i < 50; i++) r.write(toy(`f${i}`))
    r.end()
    const out = await collect(iterateFrames(r, new ToyDecoder()))
    expect(out.length).toBe(50)
    expect(out[49]).toBe('f49')
  })

  it('rejects after the frames that came before the error; truncation at the end', async () => {
    const got: string[] = []
    const err = await (async () => {
      for await (const f of iterateFrames(chunks(toy('a'), Buffer.from([0xff])), new ToyDecoder()))
        got.push(f)
    })().catch((e) => e)
    expect(got).toEqual(['a'])
    expect(err.code).toBe('ERR_TOY_FATAL')
    const trunc = await collect(
      iterateFrames(chunks(toy('a'), Buffer.from([5, 1])), new ToyDecoder()),
    ).catch((e) => e)
    expect(trunc.code).toBe('ERR_TRUNCATED_FRAME')
    const batchErr = await collect(
      iterateFrames(chunks(Buffer.from([0xff])), new ToyDecoder(), { batch: true }),
    ).catch((e) => e)
    expect(batchErr.code).toBe('ERR_TOY_FATAL')
  })

  it('goes on after recoverable errors when onRecoverableError is given', async () => {
    const seen: string[] = []
    const out = await collect(
      iterateFrames(chunks(toy('a', '!x', 'b')), new ToyDecoder(), {
        onRecoverableError: (e) => seen.push(e.code),
      }),
    )
    expect(out).toEqual(['a', 'b'])
    expect(seen).toEqual(['ERR_TOY_BAD'])
  })

  it('breaking out of the loop destroys a Readable source', async () => {
    const r = new PassThrough()
    r.write(toy('a', 'b'))
    for await (const f of iterateFrames(r, new ToyDecoder())) {
      expect(f).toBe('a')
      break
    }
    expect(r.destroyed).toBe(true)
  })

  it('destroys a Readable source on a fatal error and when onRecoverableError throws', async () => {
    const fatal = new PassThrough()
    fatal.write(Buffer.concat([toy('a'), Buffer.from([0xff])]))
    await expect(collect(iterateFrames(fatal, new ToyDecoder()))).rejects.toMatchObject({
      code: 'ERR_TOY_FATAL',
    })
    expect(fatal.destroyed).toBe(true)

    const soft = new PassThrough()
    soft.write(toy('a', '!x'))
    const it = iterateFrames(soft, new ToyDecoder(), {
      onRecoverableError: () => {
        throw new Error('handler broke')
      },
    })
    await expect(collect(it)).rejects.toThrow('handler broke')
    expect(soft.destroyed).toBe(true)
    expect(await it.next()).toEqual({ value: undefined, done: true })
  })

  it('serialises concurrent next() calls and hands frames out in order', async () => {
    const it = iterateFrames(chunks(toy('a'), toy('b', 'c')), new ToyDecoder())
    const results = await Promise.all([it.next(), it.next(), it.next(), it.next()])
    expect(results.map((r) => r.value)).toEqual(['a', 'b', 'c', undefined])
  })
})

describe('Web TransformStream adapter', () => {
  it('enqueues one chunk per frame', async () => {
    const ts = createDecoderStream(new ToyDecoder())
    const out = await collect(
      ReadableStream.from([toy('a', 'b'), toy('c')]).pipeThrough(
        ts,
      ) as unknown as AsyncIterable<string>,
    )
    expect(out).toEqual(['a', 'b', 'c'])
  })

  it('errors the stream with the coded error, and with ERR_TRUNCATED_FRAME at a partial end', async () => {
    const fatal = await collect(
      ReadableStream.from([Buffer.from([0xff])]).pipeThrough(
        createDecoderStream(new ToyDecoder()),
      ) as unknown as AsyncIterable<string>,
    ).catch((e) => e)
    expect(fatal.code).toBe('ERR_TOY_FATAL')
    const trunc = await collect(
      ReadableStream.from([Buffer.from([3, 1])]).pipeThrough(
        createDecoderStream(new ToyDecoder()),
      ) as unknown as AsyncIterable<string>,
    ).catch((e) => e)
    expect(trunc.code).toBe('ERR_TRUNCATED_FRAME')
  })

  it('cancelling the readable side errors the writable side', async () => {
    const ts = createDecoderStream(new ToyDecoder())
    const writer = ts.writable.getWriter()
    await ts.readable.cancel(new Error('consumer gone'))
    await expect(writer.write(toy('a'))).rejects.toThrow()
  })

  it('goes on after recoverable errors when onRecoverableError is given', async () => {
    const seen: string[] = []
    const ts = createDecoderStream(new ToyDecoder(), {
      onRecoverableError: (e) => seen.push(e.code),
    })
    const out = await collect(
      ReadableStream.from([toy('a', '!x', 'b')]).pipeThrough(
        ts,
      ) as unknown as AsyncIterable<string>,
    )
    expect(out).toEqual(['a', 'b'])
    expect(seen).toEqual(['ERR_TOY_BAD'])
  })
})

describe('socket attach adapter', () => {
  it('delivers frames and a clean end', async () => {
    const s = new PassThrough()
    const out: string[] = []
    const ended = new Promise<void>((resolve) =>
      attachDecoder(s, new ToyDecoder(), {
        frame: (f) => out.push(f),
        error: () => {},
        end: resolve,
      }),
    )
    s.end(toy('a', 'b'))
    await ended
    expect(out).toEqual(['a', 'b'])
  })

  it('pauses reading while handler promises are pending, and resumes when they settle', async () => {
    const s = new PassThrough()
    cleanup.push(() => s.destroy())
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    const out: string[] = []
    const a = attachDecoder(
      s,
      new ToyDecoder(),
      {
        frame: (f) => {
          out.push(f)
          return gate
        },
        error: () => {},
      },
      { maxPending: 1 },
    )
    s.write(toy('a'))
    await new Promise((r) => setImmediate(r))
    expect(a.paused).toBe(true)
    expect(s.isPaused()).toBe(true)
    s.write(toy('b'))
    await new Promise((r) => setImmediate(r))
    expect(out).toEqual(['a'])
    release()
    await new Promise((r) => setImmediate(r))
    expect(a.paused).toBe(false)
    expect(out).toEqual(['a', 'b'])
  })

  it('turns a throwing handler into a fatal ERR_HANDLER_FAILED and detaches', async () => {
    const s = new PassThrough()
    cleanup.push(() => s.destroy())
    const errors: ProtocolError[] = []
    const boom = new Error('app bug')
    attachDecoder(s, new ToyDecoder(), {
      frame: () => {
        throw boom
      },
      error: (e) => errors.push(e),
    })
    s.write(toy('a', 'b'))
    await new Promise((r) => setImmediate(r))
    expect(errors.map((e) => e.code)).toEqual(['ERR_HANDLER_FAILED'])
    expect(errors[0]?.cause).toBe(boom)
    expect(s.listenerCount('data')).toBe(0)
  })

  it('reports a rejected handler promise as ERR_HANDLER_FAILED', async () => {
    const s = new PassThrough()
    cleanup.push(() => s.destroy())
    const errors: ProtocolError[] = []
    attachDecoder(s, new ToyDecoder(), {
      frame: () => Promise.reject(new Error('no')),
      error: (e) => errors.push(e),
    })
    s.write(toy('a'))
    await new Promise((r) => setImmediate(r))
    expect(errors.map((e) => e.code)).toEqual(['ERR_HANDLER_FAILED'])
  })

  it('reports string chunks (setEncoding) as ERR_INVALID_CHUNK instead of throwing', async () => {
    const s = new PassThrough()
    cleanup.push(() => s.destroy())
    s.setEncoding('utf8')
    const errors: ProtocolError[] = []
    attachDecoder(s, new ToyDecoder(), { frame: () => {}, error: (e) => errors.push(e) })
    s.write(toy('a'))
    await new Promise((r) => setImmediate(r))
    expect(errors.map((e) => e.code)).toEqual(['ERR_INVALID_CHUNK'])
  })

  it('reports truncation at the end and passes recoverable errors through', async () => {
    const s = new PassThrough()
    const errors: ProtocolError[] = []
    attachDecoder(s, new ToyDecoder(), { frame: () => {}, error: (e) => errors.push(e) })
    s.end(Buffer.concat([toy('!x'), Buffer.from([9, 1])]))
    await new Promise((r) => s.once('end', r))
    expect(errors.map((e) => e.code)).toEqual(['ERR_TOY_BAD', 'ERR_TRUNCATED_FRAME'])
  })

  it('pauses reading until drain while the writable side needs draining', async () => {
    const { stream: s, flush } = stalledDuplex()
    cleanup.push(() => s.destroy())
    const out: string[] = []
    const a = attachDecoder(s, new ToyDecoder(), { frame: (f) => out.push(f), error: () => {} })
    expect(s.write(Buffer.alloc(10))).toBe(false)
    a.waitForDrain()
    expect(a.paused).toBe(true)
    s.push(toy('a'))
    await new Promise((r) => setImmediate(r))
    expect(out).toEqual([])
    flush()
    await new Promise((r) => setImmediate(r))
    expect(a.paused).toBe(false)
    expect(out).toEqual(['a'])
    a.detach()
    a.detach()
  })
})
