import type { Report } from './scenario.ts'
import type { Ports, ServerProcess } from './server.ts'

/**
 * Server flags that lift the per-address limits: every scenario's clients come from 127.0.0.1,
 * so the throttler would otherwise (rightly) refuse a load test. Flags the binary does not
 * list in `--help` are dropped when it starts.
 */
export const OPEN_LIMITS: Record<string, number> = {
  'max-connections': 100_000,
  'max-per-ip': 0,
  'ip-rate': 0,
}

/**
 * What a deployment facing the internet would set: per-address limits on (the demo leaves them
 * off because every loopback client shares one address). The hostile scenario runs with these,
 * its attackers spread over many loopback addresses except in the one-address flood.
 */
export const GUARDED_LIMITS: Record<string, number> = {
  'max-per-ip': 100,
  'ip-rate': 5000,
  'ip-window': 10_000,
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
