import type { CaseResult, RunReport } from './types.ts'

const COLOURS = {
  pass: '\u001b[32m',
  fail: '\u001b[31m',
  skip: '\u001b[33m',
  dim: '\u001b[2m',
  reset: '\u001b[0m',
}
const LABEL = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP' } as const

/** One line per case (and its reason below a failure or skip), then a summary line. */
export function formatText(
  report: RunReport,
  { colour = false }: { colour?: boolean } = {},
): string {
  const paint = (what: keyof typeof COLOURS, text: string) =>
    colour ? `${COLOURS[what]}${text}${COLOURS.reset}` : text
  const idWidth = Math.max(4, ...report.results.map((r) => r.id.length))
  const lines: string[] = []
  for (const r of report.results) {
    lines.push(
      `${paint(r.status, LABEL[r.status])}  ${r.id.padEnd(idWidth)}  ${r.title}${colour ? paint('dim', ` ${r.durationMs} ms`) : ''}`,
    )
    if (r.reason !== undefined)
      lines.push(
        `${' '.repeat(6 + idWidth)}${paint(r.status === 'fail' ? 'fail' : 'dim', r.reason)}`,
      )
  }
  lines.push(
    `${report.protocol} ${report.host}:${report.port}: ${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped (${report.results.length} cases, ${(report.durationMs / 1000).toFixed(1)} s)`,
  )
  return `${lines.join('\n')}\n`
}

/** The case list as text: id, title, section, what a conforming server does. */
export function formatList(
  cases: readonly Pick<CaseResult, 'id' | 'title' | 'section' | 'expect'>[],
): string {
  return cases
    .map((c) => `${c.id}  ${c.title}\n    ${c.section}: ${c.expect}`)
    .join('\n')
    .concat('\n')
}

function xml(text: string): string {
  return (
    text
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: XML 1.0 cannot carry these
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '?')
  )
}

/** JUnit XML: one `testsuite` per run, one `testcase` per case. */
export function formatJunit(reports: readonly RunReport[]): string {
  const suites = reports.map((report) => {
    const cases = report.results.map((r: CaseResult) => {
      const head = `    <testcase classname="${xml(r.protocol)}" name="${xml(`${r.id} ${r.title}`)}" time="${(r.durationMs / 1000).toFixed(3)}"`
      if (r.status === 'pass') return `${head}/>`
      const body =
        r.status === 'fail'
          ? `<failure message="${xml(r.reason ?? '')}"/>`
          : `<skipped message="${xml(r.reason ?? '')}"/>`
      return `${head}>${body}</testcase>`
    })
    return [
      `  <testsuite name="${xml(`${report.protocol} ${report.host}:${report.port}`)}" tests="${report.results.length}" failures="${report.failed}" skipped="${report.skipped}" errors="0" time="${(report.durationMs / 1000).toFixed(3)}">`,
      ...cases,
      '  </testsuite>',
    ].join('\n')
  })
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n${suites.join('\n')}\n</testsuites>\n`
}
