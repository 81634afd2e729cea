import { describe, expect, it } from 'vitest'
// @ts-expect-error: plain ESM JavaScript without declarations
import { buildWire, cutChunks, median, varint } from '../src/index.mjs'

describe('bench harness', () => {
  it('cuts the same wire into the same chunks every time, losing no byte', () => {
    const wire = buildWire({ frames: 100, size: 64 }, varint)
    const a = cutChunks(wire, { min: 1, max: 1460 })
    const b = cutChunks(wire, { min: 1, max: 1460 })
    expect(a.map((c: Buffer) => c.length)).toEqual(b.map((c: Buffer) => c.length))
    expect(Buffer.concat(a)).toEqual(wire)
  })

  it('writes the peers varint prefix and takes medians', () => {
    expect([...varint(300)]).toEqual([0xac, 0x02])
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 2, 3])).toBe(2.5)
  })
})
