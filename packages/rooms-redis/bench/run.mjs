#!/usr/bin/env node
// Fan-out benchmark (the uWebSockets.js N² method): N clients in one room each broadcast once
// per round; a round ends when all N × (N − 1) deliveries arrived. Three implementations, each
// in processes of its own, driven by the same two client processes (N/2 clients each), in
// interleaved runs:
//   one  - one verb-tcp node (TCPRoomManager, in-process adapter), all N clients
//   two  - two verb-tcp nodes on one Redis (RedisAdapter), N/2 clients each
//   sio  - two socket.io 4 nodes with @socket.io/redis-adapter on the same Redis, N/2 each
//   direct - (only with --only) two verb-tcp nodes joined by one TCP connection instead of Redis
//            (bench/direct-link.mjs): the floor of any two-node setup on this machine
// Prints deliveries/s per run and the medians of the per-run ratios two/one, two/sio and
// direct/one. --cpu adds, per run, the CPU each process used per 100k deliveries (from /proc)
// and how busy the whole machine was. BENCH_PROFILE=dir writes a CPU profile of every server
// and client process there.
//
//   node bench/run.mjs [--n 100] [--runs 5] [--seconds 3] [--warmup 20] [--only one,two,sio] [--cpu]
import { fork, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '100' },
    runs: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '20' },
    only: { type: 'string' },
    cpu: { type: 'boolean', default: false },
  },
})
const N = Number(values.n)
const RUNS = Number(values.runs)
const SECONDS = Number(values.seconds)
const WARMUP = Number(values.warmup)
const IMPLS = values.only ? values.only.split(',') : ['one', 'two', 'sio']
const here = new URL('.', import.meta.url)
const processes = new Set()
// BENCH_PROFILE=dir: every server and driver process writes a CPU profile there.
const execArgv = process.env.BENCH_PROFILE
  ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
  : (process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [])

async function freePort() {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address()
  server.close()
  await once(server, 'close')
  return port
}

async function startRedis() {
  const port = await freePort()
  const child = spawn(
    process.env.REDIS_SERVER ?? 'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  processes.add(child)
  // Keep reading its log: breaking out of a for-await would close the pipe under redis-server.
  let out = ''
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      out += chunk
      if (out.includes('Ready to accept connections')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)))
  })
  return { url: `redis://127.0.0.1:${port}`, child }
}

function startServer(script, env) {
  const child = fork(new URL(script, here), [], {
    execArgv,
    env: { ...process.env, ...env },
    stdio: 'inherit',
  })
  processes.add(child)
  // A server that dies mid-run would leave the round waiting forever.
  child.once('exit', (code, signal) => {
    if (processes.has(child) && !stopping) {
      console.error(`${script} exited with ${code ?? signal} during a run`)
      for (const other of processes) other.kill('SIGKILL')
      process.exit(1)
    }
  })
  return new Promise((resolve) => {
    child.once('message', ({ port, link }) => resolve({ child, port, link }))
  })
}

function request(child, message, key) {
  return new Promise((resolve) => {
    const onMessage = (reply) => {
      if (reply[key]) {
        child.off('message', onMessage)
        resolve(reply)
      }
    }
    child.on('message', onMessage)
    child.send(message)
  })
}

let prefixes = 0
let stopping = false

// CPU time (user + system, in clock ticks of 10 ms) a process has used so far, from Linux's /proc.
function cpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return Number.NaN
  }
}
const cpuNotes = []
// Busy and total ticks of the whole machine, to tell a CPU-bound run from one waiting on latency.
function machineTicks() {
  const cpu = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
  const total = cpu.reduce((a, b) => a + b, 0)
  return { busy: total - cpu[3] - cpu[4], total }
}

const debug = process.env.BENCH_DEBUG ? (...a) => console.error('[bench]', ...a) : () => {}

async function measure(impl, redis) {
  const redisUrl = redis.url
  debug('measure', impl)
  let servers
  if (impl === 'one') servers = [await startServer('verb-node.mjs', { ADAPTER: 'local' })]
  else if (impl === 'two') {
    const env = { ADAPTER: 'redis', REDIS_URL: redisUrl, PREFIX: `bench-${++prefixes}` }
    servers = await Promise.all([
      startServer('verb-node.mjs', env),
      startServer('verb-node.mjs', env),
    ])
  } else if (impl === 'direct') {
    servers = await Promise.all([
      startServer('verb-node.mjs', { ADAPTER: 'direct' }),
      startServer('verb-node.mjs', { ADAPTER: 'direct' }),
    ])
    const [first, second] = servers
    await request(first.child, { peer: second.link }, 'linked')
  } else {
    const env = { REDIS_URL: redisUrl }
    servers = await Promise.all([
      startServer('sio-node.mjs', env),
      startServer('sio-node.mjs', env),
    ])
  }
  const ports = servers.map((s) => s.port)
  debug('servers up', ports)
  const drivers = [0, 1].map(() => {
    const child = fork(new URL('driver.mjs', here), [], { execArgv, stdio: 'inherit' })
    processes.add(child)
    return child
  })
  const half = N / 2
  // Alternate clients between the servers, so each server gets N / servers clients.
  await Promise.all(
    drivers.map((driver, d) =>
      request(driver, { cmd: 'connect', ports, count: half, first: d * half, impl }, 'connected'),
    ),
  )
  const payload = 'x'.repeat(32)
  let round = 0
  const runRound = async () => {
    round++
    const target = round * half * (N - 1)
    await Promise.all(
      drivers.map((driver) => request(driver, { cmd: 'round', target, payload }, 'done')),
    )
  }
  debug('connected')
  for (let i = 0; i < WARMUP; i++) await runRound()
  debug('warm')
  const roles = [
    ...servers.map((s, i) => [`server${i + 1}`, s.child.pid]),
    ...drivers.map((d, i) => [`driver${i + 1}`, d.pid]),
    ['redis', redis.child.pid],
  ]
  const before = roles.map(([, pid]) => cpuTicks(pid))
  const machineBefore = machineTicks()
  const start = process.hrtime.bigint()
  const first = round
  let elapsed = 0
  while (elapsed < SECONDS || round - first < 5) {
    await runRound()
    elapsed = Number(process.hrtime.bigint() - start) / 1e9
  }
  const deliveries = (round - first) * N * (N - 1)
  if (values.cpu) {
    // CPU milliseconds per 100k deliveries, per process, over the timed rounds.
    const per = roles.map(([name, pid], i) => {
      const ms = (cpuTicks(pid) - before[i]) * 10
      return `${name} ${((ms / deliveries) * 1e5).toFixed(1)}`
    })
    const machine = machineTicks()
    const busy = (machine.busy - machineBefore.busy) / (machine.total - machineBefore.total)
    cpuNotes.push(
      `${impl}: cpu ms per 100k deliveries: ${per.join(', ')}; wall ${((elapsed / deliveries) * 1e8).toFixed(1)} ms; machine ${(busy * 100).toFixed(0)}% busy`,
    )
  }
  for (const driver of drivers) {
    driver.send({ cmd: 'close' })
    await once(driver, 'exit')
    processes.delete(driver)
  }
  for (const { child } of servers) {
    processes.delete(child)
    child.kill(process.env.BENCH_PROFILE ? 'SIGTERM' : 'SIGKILL')
    await once(child, 'exit')
  }
  return deliveries / elapsed
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const fmt = (x) => `${(x / 1000).toFixed(0)}k`

try {
  const redis = await startRedis()
  const results = Object.fromEntries(IMPLS.map((impl) => [impl, []]))
  console.log(
    `fan-out N=${N}, ${RUNS} runs of ${SECONDS}s each (+${WARMUP} warm-up rounds); deliveries/s`,
  )
  for (let run = 0; run < RUNS; run++) {
    // Interleaved, in a rotating order, so drift on the shared machine hits all alike.
    const order = IMPLS.map((_, i) => IMPLS[(i + run) % IMPLS.length])
    const line = []
    for (const impl of order) {
      const rate = await measure(impl, redis)
      results[impl].push(rate)
      line.push(`${impl} ${fmt(rate)}`)
    }
    console.log(`run ${run + 1}: ${line.join('  ')}`)
  }
  for (const note of cpuNotes) console.log(note)
  for (const impl of IMPLS)
    console.log(`median ${impl}: ${fmt(median(results[impl]))} deliveries/s`)
  const ratio = (a, b) => results[a].map((x, i) => x / results[b][i])
  if (results.two && results.one) {
    console.log(
      `two nodes via Redis / one node: ${median(ratio('two', 'one')).toFixed(2)}x (median of per-run ratios)`,
    )
  }
  if (results.direct && results.one) {
    console.log(
      `two nodes over a direct link / one node: ${median(ratio('direct', 'one')).toFixed(2)}x (median of per-run ratios)`,
    )
  }
  if (results.two && results.sio) {
    console.log(
      `two nodes via Redis / socket.io redis-adapter: ${median(ratio('two', 'sio')).toFixed(2)}x (median of per-run ratios)`,
    )
  }
} finally {
  stopping = true
  for (const child of processes) child.kill('SIGKILL')
}
