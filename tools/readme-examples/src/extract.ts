/** One fenced code block of a README. */
export interface ReadmeExample {
  /** `<heading>`, or `<heading> (2)` for the second block under the same heading. */
  readonly name: string
  /** The nearest heading above the block (`''` before the first one). */
  readonly heading: string
  /** 1-based line of the first line of code (the line after the opening fence). */
  readonly line: number
  /** The info string's first word, lower-cased: `ts`, `js`, `sh`, … (`''` if none). */
  readonly lang: string
  readonly code: string
  /** The text right above the block calls it a fragment: it is neither checked nor run. */
  readonly fragment: boolean
}

/** Languages whose blocks are type-checked and run (the others, `sh` or `text`, are not code). */
export const RUNNABLE_LANGS: ReadonlySet<string> = new Set(['ts', 'typescript', 'mts'])

const FENCE = /^( {0,3})(`{3,}|~{3,})\s*([^\s`]*)/
const CLOSE = /^ {0,3}(`{3,}|~{3,})\s*$/
const HEADING = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/

/**
 * Every fenced code block of a markdown document, in order. A block is a fragment when the
 * last non-blank line of text above it contains the word "fragment", so a reader sees the
 * same thing the tests see.
 */
export function extractExamples(markdown: string): ReadmeExample[] {
  const lines = markdown.split(/\r?\n/)
  const examples: ReadmeExample[] = []
  const perHeading = new Map<string, number>()
  let heading = ''
  let lastText = ''
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    const open = FENCE.exec(line)
    if (!open) {
      const h = HEADING.exec(line)
      if (h) {
        heading = (h[1] as string).replace(/`/g, '')
        lastText = ''
      } else if (line.trim() !== '') {
        lastText = line
      }
      continue
    }
    const fence = open[2] as string
    const indent = (open[1] as string).length
    const body: string[] = []
    let j = i + 1
    for (; j < lines.length; j++) {
      const l = lines[j] as string
      const close = CLOSE.exec(l)
      if (close && close[1]?.[0] === fence[0] && (close[1]?.length ?? 0) >= fence.length) break
      body.push(indent > 0 ? l.replace(new RegExp(`^ {0,${indent}}`), '') : l)
    }
    const n = (perHeading.get(heading) ?? 0) + 1
    perHeading.set(heading, n)
    examples.push({
      name: n === 1 ? heading : `${heading} (${n})`,
      heading,
      line: i + 2,
      lang: (open[3] as string).toLowerCase(),
      code: `${body.join('\n')}\n`,
      fragment: /\bfragment\b/i.test(lastText),
    })
    lastText = ''
    i = j
  }
  return examples
}
