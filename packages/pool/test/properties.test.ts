import { Socket } from 'node:net'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { addressKey, ConnectionPool, ConnectionThrottler } from '../src/index.ts'

const ipv4 = fc
  .tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255))
  .map((bytes) => bytes.join('.'))
const groups = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 })
const full = (g: number[]) => g.map((x) => x.toString(16)).join(':')
/** The WHATWG URL parser's compressed form: an independent formatter to compare against. */
const compressed = (g: number[]) => new URL(`http://[${full(g)}]/`).hostname.slice(1, -1)

describe('addressKey (properties)', () => {
  it('an IPv4 address and its IPv4-mapped IPv6 forms have the same key', () => {
    fc.assert(
      fc.property(ipv4, (a) => {
        const [w, x, y, z] = a.split('.').map(Number) as [number, number, number, number]
        const hex = `::ffff:${((w << 8) | x).toString(16)}:${((y << 8) | z).toString(16)}`
        expect(addressKey(`::ffff:${a}`)).toBe(a)
        expect(addressKey(hex)).toBe(a)
        expect(addressKey(a)).toBe(a)
      }),
    )
  })

  it('every spelling of an IPv6 address has the same key, at any prefix', () => {
    fc.assert(
      fc.property(groups, fc.integer({ min: 1, max: 128 }), (g, prefix) => {
        fc.pre(!(g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff)) // mapped: IPv4 rules
        const key = addressKey(full(g), prefix)
        expect(addressKey(compressed(g), prefix)).toBe(key)
        expect(addressKey(full(g).toUpperCase(), prefix)).toBe(key)
        if (prefix === 128) expect(key).toBe(compressed(g))
      }),
    )
  })

  it('addresses that differ only after the prefix share a key; ones that differ before it do not', () => {
    fc.assert(
      fc.property(groups, groups, fc.integer({ min: 1, max: 127 }), (a, b, prefix) => {
        fc.pre(!(a.slice(0, 5).every((x) => x === 0) && a[5] === 0xffff))
        // c: a's first `prefix` bits, b's remaining bits.
        const c = a.map((x, i) => {
          const keep = Math.max(0, Math.min(16, prefix - i * 16))
          const mask = keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff
          return (x & mask) | ((b[i] as number) & ~mask & 0xffff)
        })
        fc.pre(!(c.slice(0, 5).every((x) => x === 0) && c[5] === 0xffff))
        expect(addressKey(full(c), prefix)).toBe(addressKey(full(a), prefix))
        // Flip the last bit of the prefix: another key.
        const d = [...a]
        const group = (prefix - 1) >> 4
        d[group] = (d[group] as number) ^ (1 << (15 - ((prefix - 1) & 15)))
        fc.pre(!(d.slice(0, 5).every((x) => x === 0) && d[5] === 0xffff))
        expect(addressKey(full(d), prefix)).not.toBe(addressKey(full(a), prefix))
      }),
    )
  })
})

type Op = { address: number; dt: number } | { release: number }

describe('ConnectionThrottler (properties)', () => {
  it('answers exactly like a sliding-log model with a concurrency count', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        // Small windows and steps, so times land exactly on window edges often.
        fc.integer({ min: 1, max: 12 }),
        fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined, freq: 1 }),
        fc.array(
          fc.oneof(
            fc.record({ address: fc.nat(3), dt: fc.nat(6) }),
            fc.record({ release: fc.nat(3) }),
          ),
          { maxLength: 100 },
        ),
        (maxPerWindow, windowMs, maxConcurrent, ops: Op[]) => {
          let now = 0
          const t = new ConnectionThrottler({
            maxPerWindow,
            windowMs,
            ...(maxConcurrent !== undefined && { maxConcurrent }),
            now: () => now,
          })
          const log = new Map<number, number[]>()
          const open = new Map<number, number>()
          for (const op of ops) {
            if ('release' in op) {
              t.releaseConnection(`10.0.0.${op.release}`)
              open.set(op.release, Math.max(0, (open.get(op.release) ?? 0) - 1))
              continue
            }
            now += op.dt
            const times = log.get(op.address) ?? []
            const inWindow = times.filter((x) => now - x < windowMs).length
            const active = open.get(op.address) ?? 0
            const expected =
              maxConcurrent !== undefined && active >= maxConcurrent
                ? 'concurrency'
                : inWindow >= maxPerWindow
                  ? 'rate'
                  : 'accepted'
            expect(t.acquire(`10.0.0.${op.address}`)).toBe(expected)
            if (expected === 'accepted') {
              log.set(op.address, [...times, now])
              open.set(op.address, active + 1)
            }
          }
        },
      ),
      { numRuns: 1_000 },
    )
  })
})

describe('ConnectionPool (properties)', () => {
  it('size, limit and listeners stay right under any order of add, remove and close', () => {
    type PoolOp = { op: 'add' | 'remove' | 'close'; i: number }
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.record({ op: fc.constantFrom('add', 'remove', 'close'), i: fc.nat(7) }), {
          maxLength: 60,
        }),
        (maxConnections, ops: PoolOp[]) => {
          // Unconnected sockets: 'close' is emitted by hand, synchronously.
          const sockets = Array.from({ length: 8 }, () => new Socket())
          const pool = new ConnectionPool({ maxConnections })
          const ids = new Map<number, string>()
          for (const { op, i } of ops) {
            const socket = sockets[i] as Socket
            if (op === 'add') {
              const id = pool.tryAddConnection(socket)
              if (ids.has(i)) expect(id).toBe(ids.get(i))
              else if (ids.size >= maxConnections) expect(id).toBeUndefined()
              else ids.set(i, id as string)
            } else if (op === 'remove') {
              const id = ids.get(i)
              expect(pool.removeConnection(id ?? 'none')).toBe(id !== undefined)
              ids.delete(i)
              sockets[i] = new Socket() // the old one is destroyed
            } else {
              socket.emit('close', false)
              ids.delete(i)
            }
            expect(pool.size).toBe(ids.size)
            for (const [j, s] of sockets.entries()) {
              expect(s.listenerCount('close')).toBe(ids.has(j) ? 1 : 0)
              expect(s.listenerCount('error')).toBe(ids.has(j) ? 1 : 0)
            }
          }
          pool.close()
          for (const s of sockets) s.destroy()
        },
      ),
      { numRuns: 300 },
    )
  })
})
