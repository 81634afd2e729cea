// The README's case table is generated from the case list and must be current.
import { readFileSync, writeFileSync } from 'node:fs'
import { expect, it } from 'vitest'
import { listCases, PROTOCOLS } from '../src/index.ts'

const README = new URL('../README.md', import.meta.url)
const START = '<!-- cases:start -->'
const END = '<!-- cases:end -->'

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, '\\n')

export function casesTable(): string {
  const counts = PROTOCOLS.map((p) => [p, listCases(p).length] as const)
  const total = counts.reduce((n, [, c]) => n + c, 0)
  const lines = [`${counts.map(([p, c]) => `${p}: ${c}`).join(', ')}; ${total} cases in all.`, '']
  for (const protocol of PROTOCOLS) {
    lines.push(
      `### ${protocol} (${listCases(protocol).length})`,
      '',
      '| Id | Sends | Section | A conforming server |',
      '| --- | --- | --- | --- |',
    )
    for (const c of listCases(protocol))
      lines.push(
        `| \`${c.id}\` | ${cell(c.title)} | [${cell(c.section)}](${c.reference}) | ${cell(c.expect)} |`,
      )
    lines.push('')
  }
  return lines.join('\n')
}

it('the README lists every case, as the case list has it', () => {
  const text = readFileSync(README, 'utf8')
  const start = text.indexOf(START)
  const end = text.indexOf(END)
  expect(start).toBeGreaterThan(0)
  const current = text.slice(start + START.length, end)
  const wanted = `\n${casesTable()}`
  if (process.env.UPDATE_CASES)
    writeFileSync(README, text.slice(0, start + START.length) + wanted + text.slice(end))
  else expect(current).toBe(wanted)
})
