import type { ProtocolError } from '@verb-tcp/core'
import type { DecodeSink } from '@verb-tcp/core/codec'
import { everySplit } from '@verb-tcp/core/testing'
import { describe, expect, it } from 'vitest'
import { encodeFrame, FrameDecoder } from '../src/index.ts'
import { enc, run, text } from './helpers.ts'

const wire = Buffer.concat(['{"a":1}', '', 'x\ny', '{"type":"é"}'].map((s) => encodeFrame(enc(s))))
const expected = ['{"a":1}', '', 'x\ny', '{"type":"é"}']

describe('chunk boundaries', () => {
  it('decodes the same frames at every split point', () => {
    for (const chunks of everySplit(wire)) {
      const r = run(new FrameDecoder(), chunks)
      expect(text(r.frames)).toEqual(expected)
      expect(r.errors).toEqual([])
    }
  })

  it('decodes the same frames from 1-byte chunks', () => {
    const chunks = [...wire].map((b) => Buffer.from([b]))
    expect(text(run(new FrameDecoder(), chunks).frames)).toEqual(expected)
  })

  it('emits thousands of frames from one chunk, in order', () => {
    const many = Buffer.concat(Array.from({ length: 5000 }, (_, i) => encodeFrame(enc(String(i)))))
    const r = run(new FrameDecoder(), [many])
    expect(r.frames.length).toBe(5000)
    expect(text(r.frames).every((s, i) => s === String(i))).toBe(true)
  })

  it('ends cleanly when a chunk ends on a frame boundary', () => {
    const d = new FrameDecoder()
    const r = run(d, [encodeFrame(enc('ab')), encodeFrame(enc('c'))])
    expect(r.codes).toEqual([])
    expect(d.bufferedBytes).toBe(0)
  })

  it('treats zero-length chunks as no-ops, not as the end', () => {
    const r = run(new FrameDecoder(), ['', '3', '', '\n', '', 'abc', ''])
    expect(text(r.frames)).toEqual(['abc'])
    expect(r.codes).toEqual([])
  })
})

describe('length header (3.2)', () => {
  const bad = (input: string) => run(new FrameDecoder(), [input])

  it('"0\\n" is a valid empty frame', () => {
    expect(text(bad('0\n').frames)).toEqual([''])
  })

  it('"\\n" with no digits is ERR_BAD_LENGTH', () => {
    const r = bad('\n')
    expect(r.codes).toEqual(['ERR_BAD_LENGTH'])
    expect(r.errors[0]?.recoverable).toBe(false)
  })

  it('a leading zero is ERR_BAD_LENGTH', () => {
    for (const input of ['012\n', '00\n', '0012\n'])
      expect(bad(input).codes).toEqual(['ERR_BAD_LENGTH'])
  })

  it('signs, spaces, separators, exponents, hex, decimals and non-ASCII digits are ERR_BAD_LENGTH', () => {
    const inputs = ['+12\n', '-1\n', ' 12\n', '12 \n', '1_000\n', '1e3\n', '0x10\n', '12.0\n']
    inputs.push('１２\n', '١٢\n', '12abc\n', '-5\n')
    for (const input of inputs) {
      const r = bad(`${input}${'x'.repeat(20)}`)
      expect(r.codes, input).toEqual(['ERR_BAD_LENGTH'])
      expect(r.frames).toEqual([])
    }
  })

  it('"12\\r\\n" is ERR_BAD_LENGTH (no lone-CR tolerance)', () => {
    expect(bad('12\r\n{"type":"x"}').codes).toEqual(['ERR_BAD_LENGTH'])
  })

  it('more digits than the limit can need fail at once, before any LF', () => {
    const d = new FrameDecoder({ maxFrameBytes: 1_000_000 })
    const r = run(d, ['10000000'], false)
    expect(r.codes).toEqual(['ERR_FRAME_TOO_LARGE'])
    expect(r.errors[0]?.limit).toBe(1_000_000)
  })

  it('an endless drip of digits stops at the digit cap (slow-loris)', () => {
    const d = new FrameDecoder()
    const errors: ProtocolError[] = []
    const sink: DecodeSink<Buffer> = { frame: () => {}, error: (e) => errors.push(e) }
    let pushed = 0
    while (errors.length === 0 && pushed < 100) {
      d.push(enc('9'), sink)
      pushed++
    }
    expect(errors.map((e) => e.code)).toEqual(['ERR_FRAME_TOO_LARGE'])
    expect(pushed).toBe(7) // 9999999 > 8 MiB (8388608): no need to see an eighth digit
    expect(d.bufferedBytes).toBe(0)
  })

  it('a payload containing LF is fine: the length governs', () => {
    expect(text(bad('5\na\n\nb\n').frames)).toEqual(['a\n\nb\n'])
  })

  it('a stray LF after a payload is read as the next header and fails', () => {
    const r = bad('1\na\n1\nb')
    expect(text(r.frames)).toEqual(['a'])
    expect(r.codes).toEqual(['ERR_BAD_LENGTH'])
    expect(r.errors[0]?.offset).toBe(3)
  })

  it('reports the offending header bytes in hex, with the stream offset', () => {
    const r = run(new FrameDecoder(), ['2\nab', 'GET / HTTP/1.1\r\n'])
    expect(text(r.frames)).toEqual(['ab'])
    expect(r.errors[0]?.offset).toBe(4)
    expect(r.errors[0]?.message).toContain('47 45 54 20 2f 20 48 54 54 50')
  })

  it('fails a TLS ClientHello at its first byte', () => {
    const r = bad('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03')
    expect(r.codes).toEqual(['ERR_BAD_LENGTH'])
    expect(r.errors[0]?.message).toContain('16 03 01 02 00')
  })
})

describe('limits', () => {
  it('accepts a frame of exactly the limit and rejects limit + 1, payload bytes only', () => {
    const ok = run(new FrameDecoder({ maxFrameBytes: 5 }), [encodeFrame(enc('12345'))])
    expect(text(ok.frames)).toEqual(['12345'])
    const over = run(new FrameDecoder({ maxFrameBytes: 5 }), ['6\n'], false)
    expect(over.codes).toEqual(['ERR_FRAME_TOO_LARGE'])
    expect(over.errors[0]).toMatchObject({
      declaredLength: 6,
      limit: 5,
      recoverable: false,
      offset: 0,
    })
  })

  it('fails at the header, before any payload byte is buffered', () => {
    const d = new FrameDecoder({ maxFrameBytes: 100 })
    const r = run(d, ['101\n', 'x'.repeat(50)], false)
    expect(r.codes).toEqual(['ERR_FRAME_TOO_LARGE'])
    expect(d.bufferedBytes).toBe(0)
  })

  it('ignores input after a fatal error', () => {
    const d = new FrameDecoder()
    const r = run(d, ['x', '1\na', '1\nb'])
    expect(r.codes).toEqual(['ERR_BAD_LENGTH'])
    expect(r.frames).toEqual([])
  })

  it('with oversize "skip", discards exactly the declared bytes and goes on', () => {
    const d = new FrameDecoder({ maxFrameBytes: 3, oversize: 'skip' })
    const r = run(d, ['1\na4\nbb', 'bb2\ncc', '9\n123456', '789', '1\nd'])
    expect(text(r.frames)).toEqual(['a', 'cc', 'd'])
    expect(r.codes).toEqual(['ERR_FRAME_TOO_LARGE', 'ERR_FRAME_TOO_LARGE'])
    expect(r.errors.every((e) => e.recoverable)).toBe(true)
    expect(r.errors[0]).toMatchObject({ declaredLength: 4, offset: 3 })
    expect(d.bufferedBytes).toBe(0)
  })

  it('allocates nothing for a huge declared length followed by a trickle', () => {
    const d = new FrameDecoder({ maxFrameBytes: 2 ** 32 })
    const sink: DecodeSink<Buffer> = { frame: () => {}, error: () => {} }
    d.push(enc('4000000000\n'), sink)
    expect(d.bufferedBytes).toBe(0)
    for (let i = 0; i < 10; i++) d.push(Buffer.alloc(1000), sink)
    // The first chunk of payload gets a bounded buffer; it grows only with bytes received.
    expect(d.bufferedBytes).toBeLessThanOrEqual(64 * 1024)
    for (let i = 0; i < 100; i++) d.push(Buffer.alloc(10_000), sink)
    expect(d.bufferedBytes).toBeLessThanOrEqual(2 * 1_010_000)
  })

  it('buffers a spanning payload up to 64 KiB in one exact-size buffer', () => {
    const d = new FrameDecoder()
    const frames: Buffer[] = []
    const sink: DecodeSink<Buffer> = { frame: (f) => frames.push(f), error: () => {} }
    d.push(enc('65536\nab'), sink)
    expect(d.bufferedBytes).toBe(65536)
    d.push(Buffer.alloc(65534, 0x63), sink)
    expect(frames.length).toBe(1)
    expect(frames[0]?.buffer.byteLength).toBeGreaterThanOrEqual(65536)
    expect(frames[0]?.length).toBe(65536)
    expect(frames[0]?.subarray(0, 3).toString()).toBe('abc')
  })
})

describe('end of input', () => {
  it('is ERR_TRUNCATED_FRAME inside a payload, with expected and received counts', () => {
    const r = run(new FrameDecoder(), ['5\nab'])
    expect(r.codes).toEqual(['ERR_TRUNCATED_FRAME'])
    expect(r.errors[0]).toMatchObject({ expected: 5, received: 2, declaredLength: 5, offset: 4 })
  })

  it('is ERR_TRUNCATED_FRAME inside a header', () => {
    const r = run(new FrameDecoder(), ['2\nab12'])
    expect(text(r.frames)).toEqual(['ab'])
    expect(r.errors[0]).toMatchObject({ code: 'ERR_TRUNCATED_FRAME', received: 2 })
  })

  it('is ERR_TRUNCATED_FRAME inside a skipped frame', () => {
    const r = run(new FrameDecoder({ maxFrameBytes: 1, oversize: 'skip' }), ['5\nab'])
    expect(r.codes).toEqual(['ERR_FRAME_TOO_LARGE', 'ERR_TRUNCATED_FRAME'])
  })

  it('is clean on a frame boundary, and end() twice reports nothing more', () => {
    const d = new FrameDecoder()
    expect(run(d, ['1\na']).codes).toEqual([])
    expect(run(d, ['1\nb']).frames).toEqual([])
  })
})

describe('input and ownership', () => {
  it('honours byteOffset of views, and accepts ArrayBuffer and DataView', () => {
    const backing = Buffer.from('junk3\nabcjunk')
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 4, 5)
    const ab = new Uint8Array(enc('1\nz')).buffer
    const dv = new DataView(enc('xx1\ny').buffer, enc('xx1\ny').byteOffset + 2, 3)
    const r = run(new FrameDecoder(), [view, ab, dv])
    expect(text(r.frames)).toEqual(['abc', 'z', 'y'])
  })

  it('refuses strings with a TypeError (their encoding would be a guess)', () => {
    const sink: DecodeSink<Buffer> = { frame: () => {}, error: () => {} }
    expect(() => new FrameDecoder().push('1\na' as unknown as Uint8Array, sink)).toThrow(TypeError)
  })

  it('returns views by default and owned copies with copy: true (reused input buffers)', () => {
    const input = enc('3\nabc')
    const views = run(new FrameDecoder(), [input]).frames
    const copies = run(new FrameDecoder({ copy: true }), [input]).frames
    input.fill(0x7a)
    expect(text(views)).toEqual(['zzz'])
    expect(text(copies)).toEqual(['abc'])
  })

  it('a frame spanning chunks owns its bytes even without copy', () => {
    const a = enc('3\na')
    const b = enc('bc')
    const frames = run(new FrameDecoder(), [a, b]).frames
    b.fill(0)
    expect(text(frames)).toEqual(['abc'])
  })

  it('propagates a throw from the sink, counts the frame as delivered, then ignores input', () => {
    const d = new FrameDecoder()
    const seen: string[] = []
    const sink: DecodeSink<Buffer> = {
      frame: (f) => {
        seen.push(f.toString())
        throw new Error('consumer bug')
      },
      error: () => {},
    }
    expect(() => d.push(enc('1\na1\nb'), sink)).toThrow('consumer bug')
    d.push(enc('1\nc'), sink)
    expect(seen).toEqual(['a'])
  })
})
