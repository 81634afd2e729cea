import { everySplit } from '@verb-tcp/core/testing'
import { describe, expect, it } from 'vitest'
import { encodeFrame, encodeMessage, MessageDecoder } from '../src/index.ts'
import { enc, run } from './helpers.ts'

const frame = (payload: string | Buffer) =>
  encodeFrame(typeof payload === 'string' ? enc(payload) : payload)

describe('message layer (3.2)', () => {
  it('"0\\n" is a frame whose empty payload is ERR_INVALID_JSON, and the stream goes on', () => {
    const r = run(new MessageDecoder(), ['0\n', frame('{"type":"ok"}')])
    expect(r.codes).toEqual(['ERR_INVALID_JSON'])
    expect(r.errors[0]).toMatchObject({ recoverable: true, offset: 2, declaredLength: 0 })
    expect(r.frames).toEqual([{ type: 'ok' }])
  })

  it('lengths count bytes: a character count from a sloppy peer fails, ours works', () => {
    const json = '{"t":"日本"}'
    const sloppy = `${json.length}\n${json}` // the verb docs' header: 10 characters, 14 bytes
    const r = run(new MessageDecoder(), [sloppy])
    expect(r.frames).toEqual([])
    expect(r.codes[0]).toBe('ERR_INVALID_UTF8') // cut inside "本"
    expect(run(new MessageDecoder(), [encodeMessage({ t: '日本' })]).frames).toEqual([
      { t: '日本' },
    ])
  })

  it('a multi-byte character split across chunks at every point decodes intact', () => {
    const wire = Buffer.concat([encodeMessage({ s: '€𝄞é' }), encodeMessage({ s: 'ok' })])
    for (const chunks of everySplit(wire)) {
      expect(run(new MessageDecoder(), chunks).frames).toEqual([{ s: '€𝄞é' }, { s: 'ok' }])
    }
  })

  it('invalid UTF-8 is ERR_INVALID_UTF8 (never U+FFFD), recoverable', () => {
    const bad = [
      Buffer.from([0x22, 0xe2, 0x82, 0x22]), // truncated sequence
      Buffer.from([0x22, 0xc0, 0xaf, 0x22]), // overlong "/"
      Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), // encoded surrogate U+D800
      Buffer.from([0x22, 0xff, 0x22]), // never valid
      Buffer.from([0x22, 0xf4, 0x90, 0x80, 0x80, 0x22]), // above U+10FFFF
    ]
    for (const payload of bad) {
      const r = run(new MessageDecoder(), [frame(payload), frame('"next"')])
      expect(r.codes).toEqual(['ERR_INVALID_UTF8'])
      expect(r.errors[0]?.recoverable).toBe(true)
      expect(r.frames).toEqual(['next'])
    }
  })

  it('the same checks apply to a payload that spans chunks', () => {
    const wire = Buffer.concat([frame(Buffer.from([0x22, 0xff, 0x22])), frame('1')])
    for (const chunks of everySplit(wire)) {
      const r = run(new MessageDecoder(), chunks)
      expect(r.codes).toEqual(['ERR_INVALID_UTF8'])
      expect(r.frames).toEqual([1])
    }
  })

  it('a UTF-8 BOM is ERR_INVALID_JSON with a hint', () => {
    const r = run(new MessageDecoder(), [frame(Buffer.from('\ufeff{}'))])
    expect(r.codes).toEqual(['ERR_INVALID_JSON'])
    expect(r.errors[0]?.message).toContain('byte order mark')
  })

  it('invalid JSON and trailing garbage are ERR_INVALID_JSON with the SyntaxError as cause', () => {
    const r = run(new MessageDecoder(), [frame('{"a":'), frame('{}x'), frame('{"ok":1}')])
    expect(r.codes).toEqual(['ERR_INVALID_JSON', 'ERR_INVALID_JSON'])
    expect(r.errors[0]?.cause).toBeInstanceOf(SyntaxError)
    expect(r.errors.every((e) => e.recoverable)).toBe(true)
    expect(r.frames).toEqual([{ ok: 1 }])
  })

  it('deeply nested JSON inside the limit parses (depth limits belong to the schema)', () => {
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`
    const r = run(new MessageDecoder(), [frame(deep)])
    expect(r.codes).toEqual([])
    expect(r.frames.length).toBe(1)
  })

  it('a "__proto__" key is an own property, not a prototype', () => {
    const r = run(new MessageDecoder(), [frame('{"__proto__":{"polluted":true}}')])
    const msg = r.frames[0] as Record<string, unknown>
    expect(Object.hasOwn(msg, '__proto__')).toBe(true)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.getPrototypeOf(msg)).toBe(Object.prototype)
  })

  it('top-level non-objects are messages by default, ERR_INVALID_MESSAGE with requireType', () => {
    const inputs = ['42', '"x"', 'null', '[1]', '{}', '{"type":1}', '{"type":"ok"}']
    const all = run(new MessageDecoder(), inputs.map(frame))
    expect(all.frames).toEqual([42, 'x', null, [1], {}, { type: 1 }, { type: 'ok' }])
    const strict = run(new MessageDecoder({ requireType: true }), inputs.map(frame))
    expect(strict.frames).toEqual([{ type: 'ok' }])
    expect(strict.codes).toEqual(Array(6).fill('ERR_INVALID_MESSAGE'))
    expect(strict.errors.every((e) => e.recoverable)).toBe(true)
  })

  it('framing errors stay fatal under the message layer', () => {
    const r = run(new MessageDecoder(), [frame('1'), '01\n1', frame('2')])
    expect(r.frames).toEqual([1])
    expect(r.codes).toEqual(['ERR_BAD_LENGTH'])
    expect(r.errors[0]?.recoverable).toBe(false)
  })

  it('decodes ASCII and non-ASCII payloads mixed in one chunk', () => {
    const msgs = [{ a: 'x' }, { b: 'ü' }, { c: 'y' }, 'z', { d: '🎉' }]
    const r = run(new MessageDecoder(), [Buffer.concat(msgs.map((m) => encodeMessage(m)))])
    expect(r.frames).toEqual(msgs)
  })
})
