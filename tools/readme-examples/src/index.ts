/**
 * Private test tooling shared by every package: a README's TypeScript code blocks are extracted,
 * type-checked with the package's compiler options and run, each in its own `node` process,
 * against the built package, so every example a user copies compiles and works as written.
 * A block is skipped when the last line of text above it says "fragment".
 *
 * @example
 * ```ts
 * // packages/<name>/test/readme.test.ts
 * import { testReadme } from '@verb-tcp/readme-examples'
 * import { expect } from 'vitest'
 *
 * testReadme(new URL('../README.md', import.meta.url), {
 *   expect: { Example: ({ stdout }) => expect(stdout).toContain('hello') },
 * })
 * ```
 * @packageDocumentation
 */
export { extractExamples, type ReadmeExample, RUNNABLE_LANGS } from './extract.ts'
export { EXAMPLES_DIR, type ExampleFiles, resetExamplesDir, writeExample } from './files.ts'
export { type RunOptions, type RunResult, runScript } from './run.ts'
export { runnableExamples, type TestReadmeOptions, testReadme } from './test-readme.ts'
export { typecheckFiles } from './typecheck.ts'
