import type { ScenarioResult } from './scenario.ts'

/**
 * Failures the suite finds that are reported bugs still being fixed elsewhere. The quick run in
 * `npm test` reports them loudly but does not fail on them; anything else fails. An entry is
 * removed as soon as its fix lands, so a regression fails again.
 */
export const KNOWN_FAILURES: ReadonlyArray<{ scenario: string; pattern: RegExp; bug: string }> = []

/** The failures of a result that are not known bugs. */
export function unexpectedFailures(result: ScenarioResult): string[] {
  if (result.outcome !== 'fail') return []
  return result.failures.filter(
    (failure) => !KNOWN_FAILURES.some((k) => k.scenario === result.name && k.pattern.test(failure)),
  )
}
