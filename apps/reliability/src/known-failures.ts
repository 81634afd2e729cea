import type { ScenarioResult } from './scenario.ts'

/**
 * Failures the suite finds that are reported bugs still being fixed elsewhere. The quick run in
 * `npm test` reports them loudly but does not fail on them; anything else fails. An entry is
 * removed as soon as its fix lands, so a regression fails again.
 */
export const KNOWN_FAILURES: readonly KnownFailure[] = []

export interface KnownFailure {
  scenario: string
  pattern: RegExp
  bug: string
}

/** The failures of a result that are not known bugs. */
export function unexpectedFailures(
  result: ScenarioResult,
  known: readonly KnownFailure[] = KNOWN_FAILURES,
): string[] {
  if (result.outcome !== 'fail') return []
  return result.failures.filter(
    (failure) => !known.some((k) => k.scenario === result.name && k.pattern.test(failure)),
  )
}
