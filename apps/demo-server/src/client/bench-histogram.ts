/**
 * Latencies in microseconds, in buckets that several generator processes can send to the one
 * that reports and be added up there: exact to 1 µs below 10 ms, then 100 µs wide up to 10 s
 * (anything slower counts as 10 s).
 */
const FINE = 10_000
const COARSE = 100
const BUCKETS = FINE + (10_000_000 - FINE) / COARSE

export class LatencyHistogram {
  readonly counts = new Uint32Array(BUCKETS)
  count = 0

  record(us: number): void {
    const v = Math.max(us, 1)
    const i =
      v < FINE ? Math.floor(v) : Math.min(BUCKETS - 1, FINE + Math.floor((v - FINE) / COARSE))
    this.counts[i] = (this.counts[i] as number) + 1
    this.count++
  }

  /** The non-empty buckets, as [index, count] pairs: small enough to send between processes. */
  sparse(): [number, number][] {
    const out: [number, number][] = []
    for (let i = 0; i < BUCKETS; i++) {
      const n = this.counts[i] as number
      if (n > 0) out.push([i, n])
    }
    return out
  }

  add(sparse: [number, number][]): void {
    for (const [i, n] of sparse) {
      this.counts[i] = (this.counts[i] as number) + n
      this.count += n
    }
  }

  /** The `p`th percentile in milliseconds (NaN when empty). */
  percentile(p: number): number {
    if (this.count === 0) return Number.NaN
    const rank = Math.ceil((p / 100) * this.count)
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] as number
      if (seen >= rank) return (i < FINE ? i : FINE + (i - FINE) * COARSE) / 1000
    }
    return 10_000
  }
}
