import { describe, expect, it } from 'vitest'
import { ChunkDecoder } from '../../src/codec/chunk-decoder.ts'
import { decodeAll } from '../../src/codec/decoder.ts'
import { TruncatedFrameError } from '../../src/codec/errors.ts'
import { ProtocolError } from '../../src/errors.ts'

/** Frames of exactly two bytes; a 0xff byte at a frame start is fatal. */
class PairDecoder extends ChunkDecoder<string> {
  #held: number | undefined
  readonly positions: number[] = []

  protected decodeChunk(
    chunk: Buffer,
    position: number,
    sink: { frame(v: string): void; error(e: ProtocolError): void },
  ) {
    this.positions.push(position)
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i] as number
      if (this.#held === undefined) {
        if (b === 0xff)
          return this.fail(sink, new ProtocolError('ERR_PAIR', 'bad', { offset: position + i }))
        this.#held = b
      } else {
        sink.frame(String.fromCharCode(this.#held, b))
        this.#held = undefined
      }
    }
  }

  protected truncation(offset: number) {
    return this.#held === undefined ? undefined : new TruncatedFrameError(2, 1, { offset })
  }
}

describe('ChunkDecoder', () => {
  it('hands each chunk its stream offset and counts position across chunks', () => {
    const d = new PairDecoder()
    const r = decodeAll(d, [Buffer.from('ab'), Buffer.from('c'), new Uint8Array([100]).buffer])
    expect(r.frames).toEqual(['ab', 'cd'])
    expect(d.positions).toEqual([0, 2, 3])
    expect(d.position).toBe(4)
    expect(r.errors).toEqual([])
    expect(d.finished).toBe(true)
  })

  it('reports a truncation at the end, once', () => {
    const d = new PairDecoder()
    const r = decodeAll(d, [Buffer.from('abc')])
    expect(r.errors.map((e) => e.code)).toEqual(['ERR_TRUNCATED_FRAME'])
    expect(r.errors[0]?.offset).toBe(3)
    expect(decodeAll(d, [Buffer.from('x')]).errors).toEqual([])
  })

  it('ignores input after a fatal error', () => {
    const d = new PairDecoder()
    const r = decodeAll(d, [Buffer.from([0x61, 0x62, 0xff]), Buffer.from('cd')])
    expect(r.frames).toEqual(['ab'])
    expect(r.errors.map((e) => [e.code, e.offset])).toEqual([['ERR_PAIR', 2]])
  })

  it('finishes when the sink throws, and rethrows', () => {
    const d = new PairDecoder()
    const sink = {
      frame: () => {
        throw new Error('app')
      },
      error: () => {},
    }
    expect(() => d.push(Buffer.from('ab'), sink)).toThrow('app')
    expect(d.finished).toBe(true)
    expect(d.position).toBe(0)
  })
})
