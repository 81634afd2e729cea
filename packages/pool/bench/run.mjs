// Memory per idle connection and accept rate: a core server with the pool attached, against
// core alone and a bare node:net server, in the same run. Then the BufferPool against plain
// allocation (bench/buffers.mjs).
// Usage (after building): node bench/run.mjs   (env: N=10000 ROUNDS=3 KINDS=bare,core,pool,...)
//
// Every server runs in its own child process (bench/server.mjs) so its RSS is its own; this
// process is the only client. Rounds interleave the servers and figures are medians, because the
// machine is shared and drifts. Clients connect from 127.0.0.2–127.0.0.41, so 10,000 connections
// do not exhaust one source address's ephemeral ports.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const N = Number(process.env.N ?? 10_000)
const ROUNDS = Number(process.env.ROUNDS ?? 5)
const KINDS = (process.env.KINDS ?? 'bare,core,pool,pool+throttler').split(',')
const IN_FLIGHT = 200
const SOURCES = 40
const FILES = 65_536
const STEP_LIMIT_MS = 120_000
const FLOOR_BYTES = 1024
const FLOOR_RATE = 0.9

// 10,000 client sockets need more than the usual 1,024 files: re-run under a raised limit.
if (!process.env.POOL_BENCH_RAISED) {
  const child = spawn(
    'bash',
    [
      '-c',
      `ulimit -n ${FILES} 2>/dev/null || ulimit -n $(ulimit -Hn); exec "$0" "$@"`,
      process.execPath,
      ...process.execArgv,
      fileURLToPath(import.meta.url),
    ],
    { stdio: 'inherit', env: { ...process.env, POOL_BENCH_RAISED: '1' } },
  )
  const [code] = await once(child, 'exit')
  process.exit(code ?? 1)
}

function limit(promise, ms, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Starts a server child under a raised open-files limit; resolves with an IPC handle. */
async function startServer(kind) {
  const child = spawn(
    'bash',
    [
      '-c',
      `ulimit -n ${FILES} 2>/dev/null || ulimit -n $(ulimit -Hn); exec "$0" "$@"`,
      process.execPath,
      '--expose-gc',
      join(here, 'server.mjs'),
      kind,
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  )
  const pending = []
  child.on('message', (message) => pending.shift()?.(message))
  const ask = (question) =>
    limit(
      new Promise((resolve) => {
        pending.push(resolve)
        child.send(question)
      }),
      STEP_LIMIT_MS,
      `server ${kind}: ${question}`,
    )
  const [{ port }] = await limit(once(child, 'message'), STEP_LIMIT_MS, `starting ${kind}`)
  return {
    port,
    ask,
    stop: async () => {
      child.send('stop')
      await limit(once(child, 'exit'), STEP_LIMIT_MS, `stopping ${kind}`)
    },
  }
}

function connect(port, i) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      port,
      host: '127.0.0.1',
      localAddress: `127.0.0.${2 + (i % SOURCES)}`,
    })
    socket.once('connect', () => {
      socket.off('error', reject)
      socket.on('error', () => {})
      resolve(socket)
    })
    socket.once('error', reject)
  })
}

/** Opens N connections, IN_FLIGHT at a time; resolves when the server holds all of them. */
async function openAll(server) {
  const sockets = []
  let next = 0
  const start = performance.now()
  const worker = async () => {
    while (next < N) sockets.push(await connect(server.port, next++))
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
  for (;;) {
    const { count } = await server.ask('count')
    if (count >= N) break
    await sleep(2)
  }
  const seconds = (performance.now() - start) / 1000
  return { sockets, rate: N / seconds }
}

async function closeAll(sockets) {
  await Promise.all(
    sockets.map((socket) => {
      const closed = socket.closed ? undefined : once(socket, 'close')
      socket.destroy()
      return closed
    }),
  )
}

async function round(kind) {
  const server = await startServer(kind)
  try {
    await sleep(200)
    const before = (await server.ask('measure')).memory
    const cpuBefore = (await server.ask('cpu')).cpu
    const { sockets, rate } = await limit(openAll(server), STEP_LIMIT_MS, `${kind}: opening ${N}`)
    // Server CPU per accepted connection: steadier than the rate on a shared machine, since
    // it does not count time the server spent waiting for this client or for the CPU.
    const cpu = ((await server.ask('cpu')).cpu - cpuBefore) / N
    await sleep(200)
    const after = await server.ask('measure')
    if (after.count !== N) throw new Error(`${kind}: server holds ${after.count}, expected ${N}`)
    await closeAll(sockets)
    return {
      rate,
      cpu,
      rss: (after.memory.rss - before.rss) / N,
      heap: (after.memory.heapUsed - before.heapUsed) / N,
    }
  } finally {
    await server.stop()
  }
}

console.log(`${N} idle loopback connections per server, ${ROUNDS} interleaved rounds, medians`)
// A discarded warm-up round, so the client's JIT is warm for the first measured server.
await round(KINDS[0])
const results = Object.fromEntries(KINDS.map((k) => [k, []]))
for (let r = 1; r <= ROUNDS; r++) {
  for (const kind of KINDS) {
    const result = await round(kind)
    results[kind].push(result)
    console.log(
      `  round ${r} ${kind.padEnd(15)} rss/conn ${result.rss.toFixed(0).padStart(6)} B  heap/conn ${result.heap.toFixed(0).padStart(6)} B  accept ${result.rate.toFixed(0).padStart(6)}/s  server cpu ${result.cpu.toFixed(1).padStart(5)} µs/conn`,
    )
  }
}

const summary = Object.fromEntries(
  KINDS.map((kind) => {
    const rows = results[kind]
    return [
      kind,
      {
        rss: median(rows.map((x) => x.rss)),
        heap: median(rows.map((x) => x.heap)),
        rate: median(rows.map((x) => x.rate)),
        cpu: median(rows.map((x) => x.cpu)),
      },
    ]
  }),
)
const kib = (bytes) => `${(bytes / 1024).toFixed(2)} KiB`
console.log(
  '\n| Server | RSS per connection | JS heap per connection | Accept rate (conn/s) | Server CPU per accept |',
)
console.log('| --- | ---: | ---: | ---: | ---: |')
for (const kind of KINDS) {
  const s = summary[kind]
  console.log(
    `| ${kind} | ${kib(s.rss)} | ${kib(s.heap)} | ${s.rate.toFixed(0)} | ${s.cpu.toFixed(1)} µs |`,
  )
}
const base = summary.core ?? summary.bare
const baseName = summary.core ? 'core' : 'bare'
for (const kind of KINDS.filter((k) => k.startsWith('pool'))) {
  const s = summary[kind]
  const overRss = s.rss - base.rss
  const overHeap = s.heap - base.heap
  const ratio = s.rate / base.rate
  console.log(
    `\n${kind} vs ${baseName}: +${kib(overRss)} RSS, +${kib(overHeap)} heap per connection ` +
      `(floor ${kib(FLOOR_BYTES)}: ${overRss <= FLOOR_BYTES ? 'ok' : 'OVER'}); ` +
      `accept ${ratio.toFixed(2)}x (floor ${FLOOR_RATE}x: ${ratio >= FLOOR_RATE ? 'ok' : 'UNDER'}); ` +
      `server CPU per accept ${(s.cpu / base.cpu).toFixed(2)}x`,
  )
  if (summary.bare && baseName !== 'bare') {
    console.log(
      `${kind} vs bare: +${kib(s.rss - summary.bare.rss)} RSS per connection; accept ${(s.rate / summary.bare.rate).toFixed(2)}x`,
    )
  }
}

if (process.env.SKIP_BUFFERS !== '1') {
  console.log('')
  await import('./buffers.mjs')
}
