import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'
import type { ReadmeExample } from './extract.ts'

/** Where extracted examples are written: inside the package, so imports resolve as a user's do. */
export const EXAMPLES_DIR = '.readme-examples'

export interface ExampleFiles {
  /** The example as TypeScript, padded so its line numbers are the README's. */
  readonly ts: string
  /** The same, transpiled to an ES module for `node`. */
  readonly js: string
}

/** Empties the package's examples directory (it is git- and biome-ignored). */
export function resetExamplesDir(packageDir: string): string {
  const dir = join(packageDir, EXAMPLES_DIR)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  return dir
}

/**
 * Writes one example as `README-L<line>.ts` and `.mjs`. The blank-line padding makes a type
 * error or a stack trace point at the README's own line.
 */
export function writeExample(dir: string, example: ReadmeExample): ExampleFiles {
  const base = join(dir, `README-L${example.line}`)
  const source = '\n'.repeat(example.line - 1) + example.code
  const js = ts.transpileModule(source, {
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
    },
    fileName: `${base}.ts`,
  }).outputText
  writeFileSync(`${base}.ts`, source)
  writeFileSync(`${base}.mjs`, js)
  return { ts: `${base}.ts`, js: `${base}.mjs` }
}
