import { describe, expect, it } from 'vitest'
import { BufferPool, PoolErrorCode } from '../src/index.ts'

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    const { name, code } = error as { name?: string; code?: string }
    return name === 'VerbTcpError' ? code : 'not a VerbTcpError'
  }
  return undefined
}

describe('BufferPool', () => {
  it("has the verb docs' default size of 64 KiB", () => {
    const pool = new BufferPool()
    expect(pool.bufferSize).toBe(65_536)
    expect(pool.getBuffer().length).toBe(65_536)
  })

  it('reuses returned buffers, zeroed: one user never sees the last one’s bytes', () => {
    const pool = new BufferPool({ bufferSize: 16 })
    const a = pool.getBuffer()
    a.write('secret of conn A')
    expect(pool.returnBuffer(a)).toBe(true)
    const b = pool.getBuffer()
    expect(b).toBe(a)
    expect(b.every((byte) => byte === 0)).toBe(true)
    expect(pool.counters).toEqual({ pooled: 0, created: 1, reused: 1, dropped: 0 })
  })

  it('hands out zeroed fresh buffers too', () => {
    const pool = new BufferPool({ bufferSize: 4096 })
    expect(pool.getBuffer().every((byte) => byte === 0)).toBe(true)
  })

  it('with zeroOnReturn: false keeps the bytes (for callers that overwrite before reading)', () => {
    const pool = new BufferPool({ bufferSize: 4, zeroOnReturn: false })
    const a = pool.getBuffer()
    a.write('abcd')
    pool.returnBuffer(a)
    expect(pool.getBuffer().toString()).toBe('abcd')
  })

  it('is bounded: returns beyond maxPooled are dropped for the GC', () => {
    const pool = new BufferPool({ bufferSize: 8, maxPooled: 2 })
    const buffers = [pool.getBuffer(), pool.getBuffer(), pool.getBuffer()]
    expect(buffers.map((b) => pool.returnBuffer(b))).toEqual([true, true, false])
    expect(pool.counters).toMatchObject({ pooled: 2, dropped: 1 })
    pool.clear()
    expect(pool.counters.pooled).toBe(0)
  })

  it('refuses a buffer of another size', () => {
    const pool = new BufferPool({ bufferSize: 8 })
    expect(codeOf(() => pool.returnBuffer(Buffer.alloc(9)))).toBe(PoolErrorCode.FOREIGN_BUFFER)
    expect(codeOf(() => pool.returnBuffer(Buffer.alloc(7)))).toBe(PoolErrorCode.FOREIGN_BUFFER)
  })

  it('refuses a right-sized view into a larger allocation (it would alias live memory)', () => {
    const pool = new BufferPool({ bufferSize: 8 })
    const big = Buffer.alloc(64)
    expect(codeOf(() => pool.returnBuffer(big.subarray(0, 8)))).toBe(PoolErrorCode.FOREIGN_BUFFER)
    expect(codeOf(() => pool.returnBuffer(big.subarray(8, 16)))).toBe(PoolErrorCode.FOREIGN_BUFFER)
    // Small Buffer.from/allocUnsafe results are slices of Node's shared 8 KiB pool.
    expect(codeOf(() => pool.returnBuffer(Buffer.from('12345678')))).toBe(
      PoolErrorCode.FOREIGN_BUFFER,
    )
  })

  it('refuses a buffer returned twice, also through another view of the same memory', () => {
    const pool = new BufferPool({ bufferSize: 8 })
    const a = pool.getBuffer()
    pool.returnBuffer(a)
    expect(codeOf(() => pool.returnBuffer(a))).toBe(PoolErrorCode.BUFFER_RETURNED_TWICE)
    expect(codeOf(() => pool.returnBuffer(new Uint8Array(a.buffer)))).toBe(
      PoolErrorCode.BUFFER_RETURNED_TWICE,
    )
    expect(pool.counters.pooled).toBe(1)
  })

  it('takes a whole Uint8Array of the right size and hands it back as a Buffer', () => {
    const pool = new BufferPool({ bufferSize: 8 })
    expect(pool.returnBuffer(new Uint8Array(8))).toBe(true)
    expect(Buffer.isBuffer(pool.getBuffer())).toBe(true)
  })

  it('rejects bad options', () => {
    expect(() => new BufferPool({ bufferSize: 0 })).toThrow(RangeError)
    expect(() => new BufferPool({ maxPooled: 1.5 })).toThrow(RangeError)
    expect(() => new BufferPool({ zeroOnReturn: 'yes' as never })).toThrow(TypeError)
  })
})
