// What makes an example fail: a type error (reported at the README's line), a non-zero exit,
// and an example that never ends.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { extractExamples, runScript, typecheckFiles, writeExample } from '../src/index.ts'

const fixture = new URL('./fixtures/pkg/', import.meta.url).pathname
const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'readme-examples-'))
  dirs.push(dir)
  return dir
}

it('reports a type error at the README line it is on', () => {
  const [example] = extractExamples('# T\n\ntext\n\n```ts\nconst n: number = 1\nlog.warn(n)\n```\n')
  if (!example) throw new Error('no example')
  const files = writeExample(scratch(), example)
  const errors = typecheckFiles(fixture, [files.ts])
  expect(errors).toHaveLength(1)
  expect(errors[0]).toMatch(/README-L6\.ts:7:1 TS2304: Cannot find name 'log'/)
  // A TypeScript program build takes over 5 s when the 2-core machine is loaded.
}, 60_000)

it('reports the exit status and output of a failing script', async () => {
  const file = join(scratch(), 'fail.mjs')
  writeFileSync(file, "console.log('out'); console.error('err'); process.exitCode = 3\n")
  const result = await runScript(file, { cwd: fixture })
  expect(result).toMatchObject({ status: 3, timedOut: false, stdout: 'out\n', stderr: 'err\n' })
})

it('kills a script that does not end by itself', async () => {
  const file = join(scratch(), 'hang.mjs')
  writeFileSync(file, 'setInterval(() => {}, 1000)\n')
  const result = await runScript(file, { cwd: fixture, timeoutMs: 500 })
  expect(result).toMatchObject({ status: null, signal: 'SIGKILL', timedOut: true })
})

it('passes the environment it is given', async () => {
  const file = join(scratch(), 'env.mjs')
  writeFileSync(file, 'console.log(process.env.EXAMPLE_VALUE)\n')
  const result = await runScript(file, { cwd: fixture, env: { EXAMPLE_VALUE: 'seen' } })
  expect(result.stdout).toBe('seen\n')
})
