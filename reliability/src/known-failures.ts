import type { ScenarioResult } from './scenario.ts'

/**
 * Failures the suite finds that are reported bugs still being fixed elsewhere. The quick run in
 * `npm test` reports them loudly but does not fail on them; anything else fails. An entry is
 * removed as soon as its fix lands, so a regression fails again.
 */
export const KNOWN_FAILURES: ReadonlyArray<{ scenario: string; pattern: RegExp; bug: string }> = [
  {
    scenario: 'hostile',
    pattern: /^never-reading clients \(message\): (?!the server died)/,
    bug: 'with 2,000 message-port clients that send pings and never read, a new connection waits 4.6-5.6 s for its welcome (full run; round trips on open connections stay under 0.9 s and the stall under 50 ms since fair turns landed); where the welcome waits is not found yet',
  },
]

/** The failures of a result that are not known bugs. */
export function unexpectedFailures(result: ScenarioResult): string[] {
  if (result.outcome !== 'fail') return []
  return result.failures.filter(
    (failure) => !KNOWN_FAILURES.some((k) => k.scenario === result.name && k.pattern.test(failure)),
  )
}
