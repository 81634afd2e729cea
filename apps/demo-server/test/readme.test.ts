// The root README's "Compose your own server" example, extracted from the README as written and
// run the way the packages' README examples are: type-checked, then run in a node process of its
// own against the built packages. It lives here because this app depends on every package.
import { fileURLToPath } from 'node:url'
import {
  resetExamplesDir,
  runnableExamples,
  runScript,
  typecheckFiles,
  writeExample,
} from '@verb-tcp/readme-examples'
import { expect, it } from 'vitest'

const readme = fileURLToPath(new URL('../../../README.md', import.meta.url))
const app = fileURLToPath(new URL('..', import.meta.url))

it("the root README's compose example type-checks and runs: one client speaks, the other hears", async () => {
  const examples = runnableExamples(readme)
  expect(examples.map((e) => e.name)).toEqual(['Compose your own server'])
  const [example] = examples
  if (!example) throw new Error('no example')
  const file = writeExample(resetExamplesDir(app), example)
  expect(typecheckFiles(app, [file.ts]).join('\n')).toBe('')
  const result = await runScript(file.js, { cwd: app, timeoutMs: 20_000 })
  expect(result).toMatchObject({ status: 0, timedOut: false, stderr: '' })
  expect(result.stdout).toBe("{ type: 'said', text: 'hello, bob' }\n")
}, 120_000)
