// The message decoder's per-frame function must stay small enough for V8 to inline it into the
// chunk loop. At 462 bytes of bytecode, two over Node 20's limit of 460, it was called instead
// of inlined (and so was the sink's `frame`), which cost 2-7% of small-message throughput on
// 64 KiB chunks. This checks the build (`dist/`, which the test task builds first) against the
// limit of the V8 that runs the tests: a size, not a timing.
import { execFileSync } from 'node:child_process'
import process from 'node:process'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'

const DIST = pathToFileURL(new URL('../dist/index.js', import.meta.url).pathname).href

/** V8's default for a flag, from `node --v8-options`. */
function v8Default(flag: string): number {
  const options = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8' })
  const match = new RegExp(`default: --${flag}=(\\d+)`).exec(options)
  if (match === null) throw new Error(`no default for --${flag} in node --v8-options`)
  return Number(match[1])
}

/** Bytecode lengths of every compiled function named `name`, after decoding a few messages. */
function bytecodeLengths(name: string): number[] {
  const script = `
    const { MessageDecoder } = await import(${JSON.stringify(DIST)})
    const d = new MessageDecoder()
    let n = 0
    const sink = { frame() { n++ }, error(e) { throw e } }
    d.push(Buffer.from('7\\n{"a":1}7\\n{"a":2}'), sink)
    if (n !== 2) throw new Error('decoded ' + n)
  `
  const out = execFileSync(
    process.execPath,
    ['--print-bytecode', `--print-bytecode-filter=${name}`, '--input-type=module', '-e', script],
    { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
  )
  return [...out.matchAll(/Bytecode length: (\d+)/g)].map((m) => Number(m[1]))
}

describe('MessageDecoder inlining budget', () => {
  it("keeps payloadAt within V8's bytecode limit for inlining", () => {
    const limit = v8Default('max-inlined-bytecode-size')
    const lengths = bytecodeLengths('payloadAt')
    expect(lengths.length).toBeGreaterThan(0)
    for (const length of lengths) expect(length).toBeLessThanOrEqual(limit)
  })
})
