import { createHistogram, type RecordableHistogram } from 'node:perf_hooks'

/** Latencies in microseconds, for percentiles. */
export function latencyHistogram(): RecordableHistogram {
  return createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 })
}

/** `p50 0.91 ms, p99 3.10 ms, p999 6.02 ms` from a histogram of microseconds. */
export function percentiles(h: RecordableHistogram): { p50: number; p99: number; p999: number } {
  const ms = (p: number) => (h.count === 0 ? Number.NaN : h.percentile(p) / 1000)
  return { p50: ms(50), p99: ms(99), p999: ms(99.9) }
}

export const fmt = (n: number, digits = 2): string =>
  Number.isNaN(n)
    ? '-'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
