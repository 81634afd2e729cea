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
    bug: 'message-port clients that send pings and never read stall the event loop for over a second: what a paused socket buffered is decoded and answered in one turn when it resumes (the message-port form of issue 10, item 10)',
  },
]

/** The failures of a result that are not known bugs. */
export function unexpectedFailures(result: ScenarioResult): string[] {
  if (result.outcome !== 'fail') return []
  return result.failures.filter(
    (failure) => !KNOWN_FAILURES.some((k) => k.scenario === result.name && k.pattern.test(failure)),
  )
}
