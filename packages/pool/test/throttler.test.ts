import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  ConnectionThrottler,
  DEFAULT_MAX_TRACKED_ADDRESSES,
  type ThrottlerOptions,
} from '../src/index.ts'

/** A throttler on a hand-driven clock. */
function throttler(options: ThrottlerOptions = {}) {
  const clock = { now: 1_000 }
  const t = new ConnectionThrottler({ now: () => clock.now, ...options })
  return { t, clock }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('ConnectionThrottler: rate window', () => {
  it("has the verb docs' defaults: 10 per 60 s", () => {
    const t = new ConnectionThrottler()
    expect(t.maxPerWindow).toBe(10)
    expect(t.windowMs).toBe(60_000)
    expect(t.maxConcurrent).toBe(Number.POSITIVE_INFINITY)
  })

  it("takes the verb docs' positional constructor", () => {
    const t = new ConnectionThrottler(3, 1_000)
    expect([t.maxPerWindow, t.windowMs]).toEqual([3, 1_000])
  })

  it('lets exactly maxPerWindow through, refuses the next, and lets attempts through after the window', () => {
    const { t, clock } = throttler({ maxPerWindow: 3, windowMs: 1_000 })
    expect([1, 2, 3].map(() => t.canAcceptConnection('10.0.0.1'))).toEqual([true, true, true])
    expect(t.acquire('10.0.0.1')).toBe('rate')
    clock.now += 999
    expect(t.canAcceptConnection('10.0.0.1')).toBe(false)
    clock.now += 1
    expect(t.canAcceptConnection('10.0.0.1')).toBe(true)
    expect(t.counters).toMatchObject({ accepted: 4, refusedByRate: 2 })
  })

  it('is a sliding window: no 2x burst across a window edge', () => {
    const { t, clock } = throttler({ maxPerWindow: 4, windowMs: 1_000 })
    // 4 at the very end of one "fixed" window…
    clock.now = 10_990
    for (let i = 0; i < 4; i++) expect(t.canAcceptConnection('a')).toBe(true)
    // …and a fixed window would allow 4 more 20 ms later. A sliding one does not.
    clock.now = 11_010
    expect(t.canAcceptConnection('a')).toBe(false)
    clock.now = 11_990
    expect(t.canAcceptConnection('a')).toBe(true)
  })

  it('spreads the window: slots come back one by one as old connections age out', () => {
    const { t, clock } = throttler({ maxPerWindow: 2, windowMs: 100 })
    expect(t.canAcceptConnection('a')).toBe(true) // t=1000
    clock.now += 50
    expect(t.canAcceptConnection('a')).toBe(true) // t=1050
    clock.now += 50
    expect(t.canAcceptConnection('a')).toBe(true) // t=1100: the first aged out
    expect(t.canAcceptConnection('a')).toBe(false)
    clock.now += 49
    expect(t.canAcceptConnection('a')).toBe(false)
    clock.now += 1
    expect(t.canAcceptConnection('a')).toBe(true) // t=1150: the second aged out
  })

  it('does not count refused attempts against the window', () => {
    const { t, clock } = throttler({ maxPerWindow: 1, windowMs: 100 })
    t.acquire('a')
    for (let i = 0; i < 50; i++) {
      clock.now += 1
      t.acquire('a')
    }
    clock.now = 1_100
    expect(t.acquire('a')).toBe('accepted')
  })

  it("releaseConnection does not refund the window (the verb docs' bug)", () => {
    const { t } = throttler({ maxPerWindow: 2 })
    for (let i = 0; i < 2; i++) {
      expect(t.canAcceptConnection('a')).toBe(true)
      t.releaseConnection('a')
    }
    // The verb docs' code decremented the window count on release, so a client that connects and
    // disconnects could connect for ever.
    expect(t.canAcceptConnection('a')).toBe(false)
  })

  it('keeps addresses apart, and one over its window does not affect another', () => {
    const { t } = throttler({ maxPerWindow: 1 })
    expect(t.canAcceptConnection('10.0.0.1')).toBe(true)
    expect(t.canAcceptConnection('10.0.0.1')).toBe(false)
    expect(t.canAcceptConnection('10.0.0.2')).toBe(true)
  })

  it('counts IPv4-mapped IPv6 as IPv4, and a /64 as one client', () => {
    const { t } = throttler({ maxPerWindow: 2 })
    expect(t.canAcceptConnection('198.51.100.9')).toBe(true)
    expect(t.canAcceptConnection('::ffff:198.51.100.9')).toBe(true)
    expect(t.canAcceptConnection('198.51.100.9')).toBe(false)
    expect(t.canAcceptConnection('2001:db8::1')).toBe(true)
    expect(t.canAcceptConnection('2001:db8::ffff:2')).toBe(true)
    expect(t.canAcceptConnection('2001:db8:0:0:1234::3')).toBe(false)
    expect(t.canAcceptConnection('2001:db8:0:1::1')).toBe(true)
  })

  it('with ipv6Prefix 128 counts every IPv6 address alone', () => {
    const { t } = throttler({ maxPerWindow: 1, ipv6Prefix: 128 })
    expect(t.canAcceptConnection('2001:db8::1')).toBe(true)
    expect(t.canAcceptConnection('2001:db8::2')).toBe(true)
  })

  it('works on the default monotonic clock under fake timers', () => {
    vi.useFakeTimers()
    const t = new ConnectionThrottler({ maxPerWindow: 1, windowMs: 60_000 })
    expect(t.canAcceptConnection('a')).toBe(true)
    expect(t.canAcceptConnection('a')).toBe(false)
    vi.advanceTimersByTime(59_999)
    expect(t.canAcceptConnection('a')).toBe(false)
    vi.advanceTimersByTime(1)
    expect(t.canAcceptConnection('a')).toBe(true)
  })

  it('is not fooled by a wall-clock step (it uses the monotonic clock)', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const t = new ConnectionThrottler({ maxPerWindow: 1 })
    expect(t.canAcceptConnection('a')).toBe(true)
    vi.setSystemTime(Date.now() + 3_600_000)
    expect(t.canAcceptConnection('a')).toBe(false)
  })
})

describe('ConnectionThrottler: concurrency', () => {
  it('refuses the (M+1)th open connection of one address until one is released', () => {
    const { t } = throttler({ maxPerWindow: 100, maxConcurrent: 2 })
    expect(t.acquire('10.0.0.1')).toBe('accepted')
    expect(t.acquire('::ffff:10.0.0.1')).toBe('accepted')
    expect(t.acquire('10.0.0.1')).toBe('concurrency')
    expect(t.acquire('10.0.0.2')).toBe('accepted')
    t.releaseConnection('::ffff:10.0.0.1')
    expect(t.acquire('10.0.0.1')).toBe('accepted')
    expect(t.counters.refusedByConcurrency).toBe(1)
  })

  it('a concurrency refusal does not use up the window', () => {
    const { t } = throttler({ maxPerWindow: 2, maxConcurrent: 1 })
    expect(t.acquire('a')).toBe('accepted')
    expect(t.acquire('a')).toBe('concurrency')
    t.releaseConnection('a')
    expect(t.acquire('a')).toBe('accepted')
    t.releaseConnection('a')
    expect(t.acquire('a')).toBe('rate')
  })

  it('extra releases do nothing', () => {
    const { t } = throttler({ maxPerWindow: 100, maxConcurrent: 1 })
    t.releaseConnection('a')
    t.releaseConnection('a')
    expect(t.acquire('a')).toBe('accepted')
    t.releaseConnection('a')
    t.releaseConnection('a')
    expect(t.acquire('a')).toBe('accepted')
    expect(t.acquire('a')).toBe('concurrency')
  })
})

describe('ConnectionThrottler: memory', () => {
  it('stays under its cap during a flood of 100,000 distinct addresses (default cap)', () => {
    const { t } = throttler()
    let max = 0
    for (let i = 0; i < 100_000; i++) {
      t.acquire(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)
      if (t.size > max) max = t.size
    }
    expect(max).toBeLessThanOrEqual(DEFAULT_MAX_TRACKED_ADDRESSES)
    expect(t.counters.evicted).toBe(100_000 - DEFAULT_MAX_TRACKED_ADDRESSES)
    // Each address connected once: nobody was over its limit, so nobody was refused.
    expect(t.counters.accepted).toBe(100_000)
  })

  it('stays under a small cap with IPv6 flooders, and keeps the most recent offender', () => {
    const { t } = throttler({ maxTrackedAddresses: 1_000, maxPerWindow: 1 })
    t.acquire('192.0.2.1')
    let max = 0
    for (let i = 0; i < 100_000; i++) {
      t.acquire(`2001:db8:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::1`)
      if (i % 500 === 0) t.acquire('192.0.2.1') // a hot offender stays tracked (LRU)
      if (t.size > max) max = t.size
    }
    expect(max).toBeLessThanOrEqual(1_000)
    expect(t.acquire('192.0.2.1')).toBe('rate')
  })

  it('evicts stale entries once their window has passed', () => {
    const { t, clock } = throttler({ windowMs: 1_000 })
    for (let i = 0; i < 500; i++) t.acquire(`10.0.${i >> 8}.${i & 255}`)
    expect(t.size).toBe(500)
    clock.now += 1_000
    t.acquire('10.9.9.9')
    expect(t.size).toBe(1)
    expect(t.counters.evicted).toBe(500)
  })

  it('keeps entries that hold open connections (with maxConcurrent) and refuses new addresses when all do', () => {
    const { t, clock } = throttler({ maxTrackedAddresses: 3, maxConcurrent: 1, windowMs: 1_000 })
    for (const a of ['a', 'b', 'c']) expect(t.acquire(a)).toBe('accepted')
    expect(t.acquire('d')).toBe('capacity')
    clock.now += 5_000
    expect(t.acquire('d')).toBe('capacity') // still open: the slots must stay counted
    t.releaseConnection('b')
    expect(t.acquire('d')).toBe('accepted')
    expect(t.acquire('b')).toBe('capacity')
    expect(t.acquire('a')).toBe('concurrency')
    expect(t.counters).toMatchObject({ tracked: 3, refusedByCapacity: 3 })
  })

  it('rejects bad options', () => {
    expect(() => new ConnectionThrottler({ maxPerWindow: 0 })).toThrow(RangeError)
    expect(() => new ConnectionThrottler({ maxPerWindow: 1.5 })).toThrow(RangeError)
    expect(() => new ConnectionThrottler({ windowMs: 0 })).toThrow(RangeError)
    expect(() => new ConnectionThrottler({ maxConcurrent: -1 })).toThrow(RangeError)
    expect(() => new ConnectionThrottler({ ipv6Prefix: 0 })).toThrow(RangeError)
    expect(() => new ConnectionThrottler({ maxTrackedAddresses: 0 })).toThrow(RangeError)
    expect(() => new ConnectionThrottler({ windw: 1 } as never)).toThrow(/Unknown/)
    expect(() => new ConnectionThrottler(-1)).toThrow(RangeError)
  })
})

describe('ConnectionThrottler: events', () => {
  it("emits 'refuse', and a throwing listener cannot break it", () => {
    const { t } = throttler({ maxPerWindow: 1 })
    const seen: unknown[] = []
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    t.on('refuse', (key, reason) => {
      seen.push([key, reason])
      throw new Error('listener bug')
    })
    t.acquire('::ffff:1.2.3.4')
    expect(t.acquire('1.2.3.4')).toBe('rate')
    expect(seen).toEqual([['1.2.3.4', 'rate']])
    expect(warn).toHaveBeenCalledOnce()
    warn.mockRestore()
  })
})

describe('ConnectionThrottler: counters come back to zero', () => {
  it('open counts connections not yet released; tracked drops once the window has passed', () => {
    const { t, clock } = throttler({ maxPerWindow: 10, windowMs: 1_000, maxConcurrent: 5 })
    for (const address of ['10.0.0.1', '10.0.0.1', '10.0.0.2']) t.acquire(address)
    t.releaseConnection('10.0.0.9') // never acquired: changes nothing
    expect(t.counters).toMatchObject({ tracked: 2, open: 3, accepted: 3 })
    t.releaseConnection('10.0.0.1')
    t.releaseConnection('10.0.0.1')
    t.releaseConnection('10.0.0.1') // an extra call does nothing
    t.releaseConnection('10.0.0.2')
    expect(t.counters).toMatchObject({ tracked: 2, open: 0 })
    clock.now += 1_000
    // No new connection is needed for the stale addresses to go.
    expect(t.counters).toMatchObject({ tracked: 0, open: 0, evicted: 2 })
  })

  it('an address evicted with connections open (no concurrency limit) takes its count along', () => {
    const { t, clock } = throttler({ maxPerWindow: 10, windowMs: 1_000 })
    t.acquire('a')
    t.acquire('a')
    clock.now += 1_000
    expect(t.counters).toMatchObject({ tracked: 0, open: 0 })
    t.releaseConnection('a') // its entry is gone: nothing to give back, nothing goes negative
    expect(t.counters.open).toBe(0)
  })
})
