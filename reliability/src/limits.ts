import type { Report } from './scenario.ts'
import type { Ports, ServerProcess } from './server.ts'

/**
 * Server flags that lift the per-address limits: every scenario's clients come from 127.0.0.1,
 * so the throttler would otherwise (rightly) refuse a load test. Flags the binary does not
 * list in `--help` are dropped when it starts.
 */
export const OPEN_LIMITS: Record<string, number> = {
  'max-connections': 100_000,
  'max-connections-per-ip': 100_000,
  'throttle-max': 1_000_000_000,
  'throttle-window': 1000,
}

/** Marks the scenario skipped unless the server has every port in `ports`. */
export function needPorts(
  server: ServerProcess,
  report: Report,
  ports: Array<keyof Ports>,
): boolean {
  const missing = ports.filter((name) => server.ports[name] === undefined)
  if (missing.length === 0) return true
  report.skipped = `the server has no ${missing.join(', ')} port`
  return false
}
