import { describe, expect, it } from 'vitest'
import { FrameRemainder } from '../../src/codec/frame-remainder.ts'

describe('FrameRemainder', () => {
  it('collects a payload across chunks into one exact-size buffer', () => {
    const rest = new FrameRemainder()
    rest.collect(5, Buffer.from('xxab'), 2) // "ab" of 5 bytes
    expect(rest.active).toBe(true)
    expect(rest.bufferedBytes).toBe(5)
    expect(rest.feed(Buffer.from('c'))).toBe(1)
    expect(rest.active).toBe(true)
    expect(rest.take()).toBeUndefined()
    expect(rest.feed(Buffer.from('denext'))).toBe(2)
    expect(rest.active).toBe(false)
    expect(rest.bufferedBytes).toBe(0)
    expect(rest.take()?.toString()).toBe('abcde')
    expect(rest.take()).toBeUndefined() // handed out once
  })

  it('skips a payload inside the chunk or across chunks, holding nothing', () => {
    const rest = new FrameRemainder()
    expect(rest.skip(2, Buffer.from('xab'), 1)).toBe(3)
    expect(rest.active).toBe(false)
    expect(rest.skip(10, Buffer.from('xabc'), 1)).toBe(-1)
    expect(rest.active).toBe(true)
    expect(rest.bufferedBytes).toBe(0)
    expect(rest.feed(Buffer.alloc(4))).toBe(4)
    expect(rest.feed(Buffer.from('abcNEXT'))).toBe(3)
    expect(rest.active).toBe(false)
    expect(rest.take()).toBeUndefined()
  })

  it('reports what was expected and received when input ends, and clears', () => {
    const rest = new FrameRemainder()
    expect(rest.truncation(0, 100)).toBeUndefined()
    rest.collect(8, Buffer.from('abc'), 0)
    expect(rest.truncation(3, 100)).toMatchObject({
      code: 'ERR_TRUNCATED_FRAME',
      expected: 8,
      received: 3,
      offset: 3,
      limit: 100,
    })
    rest.clear()
    expect(rest.active).toBe(false)
    rest.skip(200, Buffer.from('abcd'), 0)
    expect(rest.truncation(4, 100)).toMatchObject({ expected: 200, received: 4 })
  })
})
