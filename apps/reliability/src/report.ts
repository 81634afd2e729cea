import type { ScenarioResult } from './scenario.ts'

function figures(result: ScenarioResult): string {
  return Object.entries(result.figures)
    .map(
      ([name, value]) =>
        `${name}: ${typeof value === 'number' ? value.toLocaleString('en') : value}`,
    )
    .join('; ')
}

function outcome(result: ScenarioResult): string {
  if (result.outcome === 'pass') return 'pass'
  return `${result.outcome.toUpperCase()}: ${result.failures.join('; ')}`
}

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ')

/** One Markdown table row per scenario: load, outcome, figures, seconds. */
export function markdownTable(results: readonly ScenarioResult[]): string {
  const rows = results.map(
    (r) =>
      `| ${r.name} | ${cell(r.load)} | ${cell(outcome(r))} | ${cell(figures(r))} | ${r.seconds} |`,
  )
  return [
    '| Scenario | Load | Outcome | Figures | Seconds |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n')
}

/** Plain text for a terminal or a CI log. */
export function textReport(results: readonly ScenarioResult[]): string {
  return results
    .map(
      (r) =>
        `${r.name.padEnd(10)} ${outcome(r)} (${r.seconds} s)\n  load: ${r.load}\n  ${figures(r)}`,
    )
    .join('\n')
}
