// BufferPool against plain allocation, for the verb docs' use: every connection takes one 64 KiB
// work buffer, copies each incoming chunk into it (the verb docs' processData), and gives it back on
// close. Each variant runs in a fresh process per round; rounds interleave; medians.
// Usage (after building): node bench/buffers.mjs   (env: CONNECTIONS=100000 CHUNKS=4 ROUNDS=5)
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const CONNECTIONS = Number(process.env.CONNECTIONS ?? 100_000)
const CHUNKS = Number(process.env.CHUNKS ?? 4)
const ROUNDS = Number(process.env.ROUNDS ?? 5)
const SIZE = 64 * 1024
const VARIANTS = {
  'BufferPool (zeroOnReturn, default)': 'pool',
  'BufferPool (zeroOnReturn: false)': 'pool-dirty',
  "the verb docs' OptimizedBufferManager": 'verb-docs',
  'Buffer.alloc per connection': 'alloc',
  'Buffer.allocUnsafe per connection': 'unsafe',
  'no work buffer (use the chunk as is)': 'none',
}

async function runOne(variant) {
  const { BufferPool } = await import('../dist/index.js')
  const chunk = Buffer.alloc(1460, 7) // one MSS of data
  let sink = 0
  let get
  let give
  if (variant === 'pool' || variant === 'pool-dirty') {
    const pool = new BufferPool({ bufferSize: SIZE, zeroOnReturn: variant === 'pool' })
    get = () => pool.getBuffer()
    give = (b) => pool.returnBuffer(b)
  } else if (variant === 'verb-docs') {
    // The verb docs' class, verbatim in behaviour.
    const bufferPool = []
    get = () => bufferPool.pop() || Buffer.allocUnsafe(SIZE)
    give = (b) => {
      if (b.length === SIZE) {
        b.fill(0)
        bufferPool.push(b)
      }
    }
  } else if (variant === 'alloc') {
    get = () => Buffer.alloc(SIZE)
    give = () => {}
  } else if (variant === 'unsafe') {
    get = () => Buffer.allocUnsafe(SIZE)
    give = () => {}
  } else {
    get = () => undefined
    give = () => {}
  }
  const connection = () => {
    const work = get()
    for (let c = 0; c < CHUNKS; c++) {
      if (work) {
        chunk.copy(work, 0, 0, Math.min(chunk.length, work.length))
        sink += work[c]
      } else {
        sink += chunk[c]
      }
    }
    give(work)
  }
  for (let i = 0; i < 2_000; i++) connection() // warm-up
  const start = performance.now()
  for (let i = 0; i < CONNECTIONS; i++) connection()
  const ns = ((performance.now() - start) * 1e6) / CONNECTIONS
  return { ns, sink }
}

if (process.argv[2] === '--child') {
  const result = await runOne(process.argv[3])
  process.stdout.write(JSON.stringify(result))
} else {
  const self = fileURLToPath(import.meta.url)
  const times = Object.fromEntries(Object.keys(VARIANTS).map((name) => [name, []]))
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, variant] of Object.entries(VARIANTS)) {
      const out = spawnSync(process.execPath, [self, '--child', variant], { encoding: 'utf8' })
      if (out.status !== 0) throw new Error(`${variant} failed: ${out.stderr}`)
      times[name].push(JSON.parse(out.stdout).ns)
    }
  }
  const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1]
  const base = median(times['Buffer.alloc per connection'])
  console.log(
    `Buffers: ${CONNECTIONS} connections × ${CHUNKS} chunks of 1460 B into a 64 KiB work buffer, ${ROUNDS} rounds, medians`,
  )
  console.log('\n| Variant | ns per connection | vs Buffer.alloc |')
  console.log('| --- | ---: | ---: |')
  for (const name of Object.keys(VARIANTS)) {
    const ns = median(times[name])
    console.log(`| ${name} | ${ns.toFixed(0)} | ${(base / ns).toFixed(2)}x |`)
  }
}
