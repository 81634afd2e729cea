// The README's code blocks, extracted from README.md (not copied), type-checked and run.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, expect, it, vi } from 'vitest'

const here = dirname(fileURLToPath(import.meta.url))
const pkg = join(here, '..')
const blocks = [
  ...readFileSync(join(pkg, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g),
].map((m) => m[1] as string)
const out = join(pkg, 'test', '.readme')

afterAll(() => rmSync(out, { recursive: true, force: true }))

function write(): string[] {
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out, { recursive: true })
  return blocks.map((code, i) => {
    const file = join(out, `block-${i}.ts`)
    // The package's own name resolves to its source, as it would to its build once installed.
    const source = code.replaceAll("'@verb-tcp/file-transfer'", "'../../src/index.ts'")
    writeFileSync(file, `import { on } from 'node:events'\nvoid on\n${source}\nexport {}\n`)
    return file
  })
}

it('has the examples', () => {
  expect(blocks.length).toBeGreaterThanOrEqual(2)
})

it('type-checks every example', () => {
  const files = write()
  writeFileSync(
    join(out, 'tsconfig.json'),
    JSON.stringify({
      extends: '../../tsconfig.json',
      include: files.map((f) => f.slice(out.length + 1)),
    }),
  )
  const tsc = join(pkg, '..', '..', 'node_modules', '.bin', 'tsc')
  execFileSync(tsc, ['-p', join(out, 'tsconfig.json')], { stdio: 'pipe' })
}, 60_000)

it.each(blocks.map((_, i) => i))(
  'runs example %i',
  async (i) => {
    const files = write()
    const log = vi.spyOn(console, 'log').mockImplementation(() => {})
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
    try {
      await import(`${pathToFileURL(files[i] as string).href}?run=${Date.now()}`)
      const printed = log.mock.calls.map((c) => c.join(' '))
      if (i === 0) expect(printed).toContain('3000000')
      if (i === 1) expect(printed.at(-1)).toBe('file_complete')
    } finally {
      log.mockRestore()
      stdout.mockRestore()
    }
  },
  30_000,
)
