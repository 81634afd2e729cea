import { describe, expect, it } from 'vitest'
import {
  encodeFrame,
  encodeMessage,
  FrameDecoder,
  JsonFramesErrorCode,
  MessageDecoder,
} from '../src/index.ts'
import { run } from './helpers.ts'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

describe('golden vectors', () => {
  it("encodes the verb docs' example byte for byte", () => {
    expect(encodeMessage({ type: 'x' }).toString('latin1')).toBe('12\n{"type":"x"}')
    expect(hex(encodeMessage({ type: 'x' }))).toBe('31320a7b2274797065223a2278227d')
  })

  it('counts UTF-8 bytes, not UTF-16 units: 2-, 3- and 4-byte characters', () => {
    // "é" is 2 bytes, "€" 3, "𝄞" (astral, 2 UTF-16 units) 4: 9 bytes + 2 quotes.
    const out = encodeMessage('é€𝄞')
    expect(out.toString('latin1', 0, 3)).toBe('11\n')
    expect(hex(out.subarray(3))).toBe('22c3a9e282acf09d849e22')
    expect(JSON.stringify('é€𝄞').length).toBe(6) // what the verb docs' code would have written
  })

  it('encodes an asymmetric length of 0x00010203 bytes as its decimal digits', () => {
    const payload = Buffer.alloc(0x00010203, 0x61)
    const out = encodeFrame(payload)
    expect(out.toString('latin1', 0, 6)).toBe('66051\n')
    expect(out.length).toBe(6 + 66051)
  })

  it('encodes the empty frame as "0\\n"', () => {
    expect(encodeFrame(new Uint8Array(0)).toString('latin1')).toBe('0\n')
  })

  it('decodes exact bytes into the exact payloads', () => {
    const wire = Buffer.from('31320a7b2274797065223a2278227d300a330a610a62', 'hex')
    const r = run(new FrameDecoder(), [wire])
    expect(r.frames.map(hex)).toEqual(['7b2274797065223a2278227d', '', '610a62'])
    expect(r.codes).toEqual([])
  })

  it('round-trips multi-byte and astral characters through the message decoder', () => {
    const msg = { type: 'ünïcödé', data: '日本語 🎉 𝄞', n: [1, 2.5, null] }
    const r = run(new MessageDecoder(), [encodeMessage(msg)])
    expect(r.frames).toEqual([msg])
  })
})

describe('encoder validation', () => {
  it('rejects a payload over the limit before emitting anything', () => {
    expect(() => encodeFrame(Buffer.alloc(11), { maxFrameBytes: 10 })).toThrowError(
      expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE', limit: 10, declaredLength: 11 }),
    )
    expect(encodeFrame(Buffer.alloc(10), { maxFrameBytes: 10 }).length).toBe(13)
  })

  it('measures the limit in UTF-8 bytes', () => {
    // 4 characters, 8 bytes of UTF-8 + 2 quotes.
    expect(() => encodeMessage('éééé', { maxFrameBytes: 9 })).toThrowError(
      expect.objectContaining({ code: JsonFramesErrorCode.FRAME_TOO_LARGE, declaredLength: 10 }),
    )
  })

  it('rejects values JSON cannot carry', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    for (const bad of [undefined, () => 1, Symbol('x'), 10n, cyclic]) {
      expect(() => encodeMessage(bad)).toThrowError(
        expect.objectContaining({ code: JsonFramesErrorCode.UNSERIALIZABLE }),
      )
    }
  })

  it('escapes lone surrogates, so the frame is always valid UTF-8', () => {
    const out = encodeMessage('\ud800')
    expect(out.toString('latin1')).toBe('8\n"\\ud800"')
  })

  it('rejects limits that are not integers from 0 to 2^32', () => {
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 32 + 1, Number.POSITIVE_INFINITY]) {
      expect(() => encodeFrame(Buffer.alloc(0), { maxFrameBytes: bad })).toThrow(RangeError)
      expect(() => new FrameDecoder({ maxFrameBytes: bad })).toThrow(
        expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
      )
    }
  })

  it("rejects bad options with Node's codes, from core's one validator", () => {
    const type = expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
    const value = expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' })
    expect(() => new FrameDecoder({ maxFrameBytes: '1' as never })).toThrow(type)
    expect(() => new FrameDecoder({ oversize: 'drop' as never })).toThrow(value)
    expect(() => new FrameDecoder({ copy: 1 as never })).toThrow(type)
    expect(() => new MessageDecoder({ requireType: 'yes' as never })).toThrow(type)
  })
})
