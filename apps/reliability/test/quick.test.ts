import { existsSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { unexpectedFailures } from '../src/known-failures.ts'
import { markdownTable } from '../src/report.ts'
import type { ScenarioResult } from '../src/scenario.ts'
import { DEFAULT_SERVER_BIN } from '../src/server.ts'
import { runScenario, SCENARIOS } from '../src/suite.ts'

// The quick suite, against the demo server's built binary (npm test builds it first). Each
// scenario is one test; its figures are printed at the end whatever the outcome.
const results: ScenarioResult[] = []

describe('reliability suite (--quick) against the demo server', () => {
  it('has the built demo server to run against', () => {
    expect(existsSync(DEFAULT_SERVER_BIN)).toBe(true)
  })

  for (const scenario of SCENARIOS) {
    it(scenario.name, async (context) => {
      const result = await runScenario(scenario, { mode: 'quick' })
      results.push(result)
      expect(unexpectedFailures(result)).toEqual([])
      if (result.outcome === 'skipped') context.skip(result.failures.join('; '))
    })
  }

  afterAll(() => {
    process.stdout.write(`\nreliability --quick\n${markdownTable(results)}\n`)
  })
})
