import { readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { extractExamples, type ReadmeExample, RUNNABLE_LANGS } from './extract.ts'
import { type ExampleFiles, resetExamplesDir, writeExample } from './files.ts'
import { type RunResult, runScript } from './run.ts'
import { typecheckFiles } from './typecheck.ts'

export interface TestReadmeOptions {
  /**
   * Extra checks on what an example printed, by example name (its heading, or `Heading (2)` for
   * the second block under one heading). A name that matches no example throws, so a renamed
   * heading cannot silently drop a check.
   */
  readonly expect?: Readonly<Record<string, (result: RunResult) => void | Promise<void>>>
  /** Environment for every example; a function is called when the examples run (after `beforeAll`). */
  readonly env?: Readonly<Record<string, string>> | (() => Readonly<Record<string, string>>)
  /** Examples that may write to stderr (by name). Otherwise any stderr output fails the example. */
  readonly allowStderr?: readonly string[]
  /** Per-example limit; an example still running then fails. @default 20000 */
  readonly timeoutMs?: number
}

/** The examples of a README that the tests check and run: TypeScript blocks not called fragments. */
export function runnableExamples(readmePath: string): ReadmeExample[] {
  return extractExamples(readFileSync(readmePath, 'utf8')).filter(
    (e) => RUNNABLE_LANGS.has(e.lang) && !e.fragment,
  )
}

/**
 * Declares the vitest tests for a package README (call it at the top level of a test file):
 * one test type-checks every runnable block with the package's compiler options, then one test
 * per block runs it in its own `node` process and expects exit status 0, no stderr output, and
 * an exit on its own. Package imports resolve to the built package (`dist`), as a user's would.
 *
 * @example
 * ```ts
 * // packages/<name>/test/readme.test.ts
 * import { testReadme } from '@verb-tcp/readme-examples'
 * import { expect } from 'vitest'
 *
 * testReadme(new URL('../README.md', import.meta.url), {
 *   expect: { Example: ({ stdout }) => expect(stdout).toBe('reply: hello\n') },
 * })
 * ```
 */
export function testReadme(readme: URL | string, options: TestReadmeOptions = {}): void {
  const readmePath = readme instanceof URL ? fileURLToPath(readme) : readme
  const packageDir = dirname(readmePath)
  const examples = runnableExamples(readmePath)
  const names = new Set(examples.map((e) => e.name))
  for (const name of [...Object.keys(options.expect ?? {}), ...(options.allowStderr ?? [])]) {
    if (!names.has(name)) {
      throw new Error(
        `README has no runnable example named "${name}"; it has: ${[...names].join(', ')}`,
      )
    }
  }
  const timeoutMs = options.timeoutMs ?? 20_000
  const files = new Map<ReadmeExample, ExampleFiles>()

  describe('README examples', () => {
    beforeAll(() => {
      const dir = resetExamplesDir(packageDir)
      for (const example of examples) files.set(example, writeExample(dir, example))
    })

    it('has at least one runnable example', () => {
      expect(examples.length).toBeGreaterThan(0)
    })

    it('type-checks every example', () => {
      const errors = typecheckFiles(
        packageDir,
        [...files.values()].map((f) => f.ts),
      )
      expect(errors.join('\n')).toBe('')
    }, 120_000)

    for (const example of examples) {
      it(
        `runs "${example.name}" (README line ${example.line})`,
        async () => {
          const file = files.get(example)
          if (!file) throw new Error('example was not written')
          const env = typeof options.env === 'function' ? options.env() : options.env
          const result = await runScript(file.js, {
            cwd: packageDir,
            timeoutMs,
            ...(env && { env }),
          })
          const output = `\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`
          expect(result.timedOut, `did not exit within ${timeoutMs} ms${output}`).toBe(false)
          expect(result.status, `exit status${output}`).toBe(0)
          if (!options.allowStderr?.includes(example.name)) {
            expect(result.stderr, 'wrote to stderr').toBe('')
          }
          await options.expect?.[example.name]?.(result)
        },
        timeoutMs + 10_000,
      )
    }
  })
}
