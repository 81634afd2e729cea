import { fn, intInRange, knownKeys, limit, ms, positiveInt } from '@verb-tcp/core/validate'
import { addressKey } from './address.ts'
import { monotonic } from './clock.ts'
import {
  DEFAULT_IPV6_PREFIX,
  DEFAULT_MAX_PER_WINDOW,
  DEFAULT_MAX_TRACKED_ADDRESSES,
  DEFAULT_WINDOW_MS,
  EVICTION_SCAN,
} from './constants.ts'
import { SafeEmitter } from './safe-emitter.ts'
import type {
  Clock,
  ThrottlerCounters,
  ThrottlerEvents,
  ThrottlerOptions,
  ThrottleVerdict,
} from './types.ts'

interface Entry {
  /**
   * Times of the last `maxPerWindow` accepted connections (whole ms): the first `count` slots,
   * then a ring whose oldest slot is `head`. Sized exactly up front for small limits.
   */
  hits: number[]
  count: number
  head: number
  /** Newest accepted connection. */
  last: number
  /** Connections open now (acquired and not yet released). */
  active: number
}

/** Limits up to this get their ring allocated at its final size. */
const PRESIZE_HITS = 64

const OPTIONS = [
  'maxPerWindow',
  'windowMs',
  'maxConcurrent',
  'ipv6Prefix',
  'maxTrackedAddresses',
  'now',
]

/**
 * The verb docs' `ConnectionThrottler`, with its two limits kept apart: at most `maxPerWindow` new
 * connections per address in any `windowMs` (an exact sliding window, so no 2× burst at a window
 * edge), and optionally at most `maxConcurrent` open at once. `releaseConnection` gives back a
 * concurrent slot only; it never refunds the rate window, as the verb docs' did.
 *
 * Addresses are normalized ({@link addressKey}): `::ffff:1.2.3.4` counts as `1.2.3.4`, IPv6 is
 * grouped by `ipv6Prefix`. At most `maxTrackedAddresses` are tracked; see the README's "Memory".
 */
export class ConnectionThrottler extends SafeEmitter<ThrottlerEvents> {
  readonly maxPerWindow: number
  readonly windowMs: number
  readonly maxConcurrent: number
  readonly ipv6Prefix: number
  readonly maxTrackedAddresses: number
  readonly #now: Clock
  /** In least-recently-seen order: every attempt moves its entry to the end. */
  readonly #entries = new Map<string, Entry>()
  #lastSweep: number
  /** Sum of `active` over the entries: connections accepted and not yet released. */
  #open = 0
  readonly #counters: Omit<ThrottlerCounters, 'tracked' | 'open'> = {
    accepted: 0,
    refusedByRate: 0,
    refusedByConcurrency: 0,
    refusedByCapacity: 0,
    evicted: 0,
  }

  /**
   * `new ConnectionThrottler(options)`, or the verb docs'
   * `new ConnectionThrottler(maxConnectionsPerIP = 10, timeWindow = 60000)`.
   */
  constructor(options?: ThrottlerOptions)
  constructor(maxConnectionsPerIP?: number, timeWindow?: number)
  constructor(first: ThrottlerOptions | number = {}, timeWindow?: number) {
    super()
    const options: ThrottlerOptions =
      typeof first === 'number'
        ? { maxPerWindow: first, ...(timeWindow !== undefined && { windowMs: timeWindow }) }
        : first
    knownKeys(options, OPTIONS, 'ConnectionThrottler')
    this.maxPerWindow = positiveInt(options.maxPerWindow, 'maxPerWindow', DEFAULT_MAX_PER_WINDOW)
    this.windowMs = ms(options.windowMs, 'windowMs', DEFAULT_WINDOW_MS, 1)
    this.maxConcurrent = limit(options.maxConcurrent, 'maxConcurrent', Number.POSITIVE_INFINITY)
    this.ipv6Prefix = intInRange(options.ipv6Prefix, 'ipv6Prefix', DEFAULT_IPV6_PREFIX, 1, 128)
    this.maxTrackedAddresses = positiveInt(
      options.maxTrackedAddresses,
      'maxTrackedAddresses',
      DEFAULT_MAX_TRACKED_ADDRESSES,
    )
    this.#now = fn(options.now, 'now', monotonic)
    this.#lastSweep = this.#now()
  }

  /** Addresses tracked now. Never more than `maxTrackedAddresses`. */
  get size(): number {
    return this.#entries.size
  }

  /**
   * `tracked` counts only addresses still inside their window (a read sweeps stale ones, at most
   * once a window), so once the traffic stops and a window has passed, it comes back to zero, as
   * `open` does when every connection has closed.
   */
  get counters(): ThrottlerCounters {
    const now = Math.floor(this.#now())
    if (now - this.#lastSweep >= this.windowMs) this.#sweep(now)
    return { tracked: this.#entries.size, open: this.#open, ...this.#counters }
  }

  /** The key `address` is counted under. */
  keyOf(address: string | undefined): string {
    return addressKey(address, this.ipv6Prefix)
  }

  /** The verb docs' check: true if a connection from `remoteAddress` may be accepted (and counts it). */
  canAcceptConnection(remoteAddress: string | undefined): boolean {
    return this.acquire(remoteAddress) === 'accepted'
  }

  /**
   * Decides on a new connection from `remoteAddress`. `'accepted'` counts it against the window
   * and takes a concurrent slot, to be given back with `releaseConnection` when it closes.
   * Refusals do not count against the window.
   */
  acquire(remoteAddress: string | undefined): ThrottleVerdict {
    const now = Math.floor(this.#now())
    if (now - this.#lastSweep >= this.windowMs) this.#sweep(now)
    const key = this.keyOf(remoteAddress)
    let entry = this.#entries.get(key)
    if (entry) {
      // Move to the end: recently seen addresses are the last to be evicted.
      this.#entries.delete(key)
      this.#entries.set(key, entry)
    } else {
      if (this.#entries.size >= this.maxTrackedAddresses && !this.#evictOne(now)) {
        return this.#refuse(key, 'capacity')
      }
      const n = this.maxPerWindow
      // Exact size for small limits (a growing array would reserve 17 slots at its first push).
      const hits = n <= PRESIZE_HITS ? Array.from({ length: n }, () => 0) : []
      entry = { hits, count: 0, head: 0, last: now, active: 0 }
      this.#entries.set(key, entry)
    }
    if (entry.active >= this.maxConcurrent) return this.#refuse(key, 'concurrency')
    const { hits } = entry
    if (entry.count < this.maxPerWindow) {
      hits[entry.count++] = now
    } else {
      if (now - (hits[entry.head] as number) < this.windowMs) return this.#refuse(key, 'rate')
      hits[entry.head] = now
      entry.head = (entry.head + 1) % this.maxPerWindow
    }
    entry.last = now
    entry.active++
    this.#open++
    this.#counters.accepted++
    return 'accepted'
  }

  /**
   * A connection accepted for `remoteAddress` has closed: frees its concurrent slot. The rate
   * window is not touched. Extra calls do nothing.
   */
  releaseConnection(remoteAddress: string | undefined): void {
    const entry = this.#entries.get(this.keyOf(remoteAddress))
    if (entry && entry.active > 0) {
      entry.active--
      this.#open--
    }
  }

  /** Forgets every address. */
  clear(): void {
    this.#entries.clear()
    this.#open = 0
  }

  /** An entry goes: its open connections can no longer be released against it. */
  #forget(key: string, entry: Entry): void {
    this.#entries.delete(key)
    this.#open -= entry.active
    this.#counters.evicted++
  }

  #refuse(key: string, reason: Exclude<ThrottleVerdict, 'accepted'>): ThrottleVerdict {
    if (reason === 'rate') this.#counters.refusedByRate++
    else if (reason === 'concurrency') this.#counters.refusedByConcurrency++
    else this.#counters.refusedByCapacity++
    this.notify('refuse', key, reason)
    return reason
  }

  /** An entry may go when forgetting it loses nothing: no open connection we must count. */
  #holdsSlots(entry: Entry): boolean {
    return entry.active > 0 && this.maxConcurrent !== Number.POSITIVE_INFINITY
  }

  /** Drops entries with no connection in the window and none open; once per window, O(n). */
  #sweep(now: number): void {
    this.#lastSweep = now
    for (const [key, entry] of this.#entries) {
      if (now - entry.last >= this.windowMs && !this.#holdsSlots(entry)) this.#forget(key, entry)
    }
  }

  /**
   * At capacity: evicts the least recently seen entry that holds no counted connection, looking
   * at no more than `EVICTION_SCAN` entries. An evicted address that is still inside its window
   * starts afresh: under a flood of more distinct addresses than the cap, per-address history
   * is the thing given up, not memory and not new clients.
   */
  #evictOne(now: number): boolean {
    let scanned = 0
    for (const [key, entry] of this.#entries) {
      if (!this.#holdsSlots(entry)) {
        this.#forget(key, entry)
        return true
      }
      if (++scanned >= EVICTION_SCAN) break
    }
    // Every entry looked at holds open connections. A full sweep may still find idle ones
    // further in; at most once a second, so a flood cannot make every attempt O(n).
    if (now - this.#lastSweep >= Math.min(this.windowMs, 1000)) this.#sweep(now)
    return this.#entries.size < this.maxTrackedAddresses
  }
}
