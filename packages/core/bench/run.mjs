import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

// Echo throughput and accept rate of @verb-tcp/core against a bare node:net server, in one run.
// Usage (after building core): node bench/run.mjs
//
// Each server runs in its own child process (bench/server.mjs) and this process is the only load
// generator. Rounds interleave the servers and the figures are medians, because the machine is
// shared and drifts: a ratio is only meaningful when both sides saw the same conditions.
import { fork } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

const HOST = '127.0.0.1'
const ROUNDS = Number(process.env.ROUNDS ?? 7)
const FLOOR = 0.95
const STREAM_BYTES = Number(process.env.MIB ?? 512) * 1024 * 1024
const CHUNK = Buffer.alloc(64 * 1024, 'x')
const PING_CONNECTIONS = 100
const PING = Buffer.alloc(64, 'p')
const PING_MS = Number(process.env.PING_MS ?? 1500)
const ACCEPTS = Number(process.env.ACCEPTS ?? 10000)
const ACCEPT_IN_FLIGHT = 50
const STEP_LIMIT_MS = 60_000

const SERVERS = ['core', 'bare', 'bare-defaults']

/** Rejects if `promise` has not settled within `ms`, so no step can hang the run. */
function limit(promise, ms, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

function connect(port) {
  return new Promise((resolve, reject) => {
    // noDelay on the client too, so Nagle on our side cannot shape the server's figures.
    const socket = net.connect({ port, host: HOST, noDelay: true }, () => {
      socket.off('error', reject)
      resolve(socket)
    })
    socket.once('error', reject)
  })
}

async function hangUp(socket) {
  socket.end()
  if (!socket.destroyed) await limit(once(socket, 'close'), 5000, 'closing a client socket')
}

/** One connection: stream STREAM_BYTES through the echo, bytes per second of the round trip. */
async function throughput(port) {
  const socket = await connect(port)
  let sent = 0
  let received = 0
  const start = performance.now()
  const echoed = new Promise((resolve, reject) => {
    socket.on('data', (data) => {
      received += data.length
      if (received >= STREAM_BYTES) resolve()
    })
    socket.once('error', reject)
    socket.once('close', () => reject(new Error('server closed the stream early')))
  })
  const pump = () => {
    while (sent < STREAM_BYTES) {
      sent += CHUNK.length
      if (!socket.write(CHUNK)) return
    }
  }
  socket.on('drain', pump)
  pump()
  await limit(echoed, STEP_LIMIT_MS, 'throughput')
  const seconds = (performance.now() - start) / 1000
  await hangUp(socket)
  return { value: received / seconds, ops: received / CHUNK.length }
}

/** PING_CONNECTIONS connections, each one 64-byte message in flight: round trips per second. */
async function pingPong(port) {
  const sockets = await Promise.all(Array.from({ length: PING_CONNECTIONS }, () => connect(port)))
  let trips = 0
  let running = true
  const start = performance.now()
  const settled = sockets.map(
    (socket) =>
      new Promise((resolve, reject) => {
        let owed = PING.length
        socket.on('data', (data) => {
          owed -= data.length
          if (owed > 0) return
          if (!running) return resolve()
          trips++
          owed = PING.length
          socket.write(PING)
        })
        socket.once('error', reject)
        socket.once('close', () => reject(new Error('server closed a ping-pong connection')))
        socket.write(PING)
      }),
  )
  await sleep(PING_MS)
  running = false
  const counted = trips
  const seconds = (performance.now() - start) / 1000
  await limit(Promise.all(settled), STEP_LIMIT_MS, 'ping-pong drain')
  await Promise.all(sockets.map(hangUp))
  return { value: counted / seconds, ops: counted }
}

/** Open and close ACCEPTS connections, ACCEPT_IN_FLIGHT at a time: connections per second. */
function acceptRate(port) {
  const run = new Promise((resolve, reject) => {
    let started = 0
    let closed = 0
    const start = performance.now()
    const next = () => {
      started++
      const socket = net.connect({ port, host: HOST })
      // Ending at once still needs the server to accept, read the EOF and end its side before
      // our 'close' fires, so the whole accept path of the server is inside the measurement.
      socket.once('connect', () => socket.end())
      socket.once('error', reject)
      socket.once('close', () => {
        closed++
        if (closed === ACCEPTS) {
          const seconds = (performance.now() - start) / 1000
          resolve({ value: ACCEPTS / seconds, ops: ACCEPTS })
        } else if (started < ACCEPTS) next()
      })
    }
    for (let i = 0; i < ACCEPT_IN_FLIGHT; i++) next()
  })
  return limit(run, STEP_LIMIT_MS, 'accept rate')
}

async function startServer(kind) {
  const child = fork(new URL('./server.mjs', import.meta.url), [kind], { stdio: 'inherit' })
  const exited = once(child, 'exit')
  const [{ port }] = await limit(once(child, 'message'), 10_000, `starting the ${kind} server`)
  const cpu = async () => {
    child.send('cpu')
    const [message] = await limit(once(child, 'message'), 5000, `cpu of the ${kind} server`)
    return message.cpu.user + message.cpu.system
  }
  const stop = async () => {
    if (child.exitCode !== null) throw new Error(`the ${kind} server exited early`)
    child.send('stop')
    const [code] = await limit(exited, 10_000, `stopping the ${kind} server`)
    if (code !== 0) throw new Error(`the ${kind} server exited with code ${code}`)
  }
  return { kind, port, cpu, stop, kill: () => child.kill() }
}

const FIGURES = [
  { name: 'throughput, 1 conn', unit: 'MiB/s', scale: 1 / 2 ** 20, op: '64K', measure: throughput },
  { name: 'ping-pong, 100 conns', unit: 'msg/s', scale: 1, op: 'msg', measure: pingPong },
  { name: 'accept rate', unit: 'conn/s', scale: 1, op: 'conn', measure: acceptRate },
]

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

async function measureFigure(figure, servers) {
  const results = Object.fromEntries(servers.map((s) => [s.kind, { values: [], cpuPerOp: [] }]))
  // Round 0 warms up the JIT on both ends and is not counted.
  for (let round = 0; round <= ROUNDS; round++) {
    // Rotating who goes first keeps a fixed position in the round from favouring one server.
    const order = process.env.FIXED
      ? servers
      : servers.map((_, i) => servers[(i + round) % servers.length])
    for (const server of order) {
      const cpuBefore = await server.cpu()
      const { value, ops } = await figure.measure(server.port)
      const cpuUsed = (await server.cpu()) - cpuBefore
      if (round === 0) continue
      results[server.kind].values.push(value)
      results[server.kind].cpuPerOp.push(cpuUsed / ops)
    }
    process.stderr.write('.')
  }
  if (process.env.JSON)
    require('node:fs').appendFileSync(
      process.env.JSON,
      `${JSON.stringify({ figure: figure.name, results })}\n`,
    )
  if (process.env.RAW)
    for (const k of SERVERS)
      console.error(
        figure.name,
        k,
        results[k].values.map((v) => Math.round(v * figure.scale)).join(' '),
        '| cpu',
        results[k].cpuPerOp.map((v) => v.toFixed(1)).join(' '),
      )
  return results
}

function printReport(rows) {
  const fmt = (n) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2))
  const header = ['figure', 'core', 'bare (same setup)', 'ratio', 'bare (node defaults)', 'ratio']
  const lines = [header]
  const cpuLines = [['server CPU µs per op', 'core', 'bare (same setup)', 'bare (node defaults)']]
  const spreadLines = [
    ['spread (max-min)/median', 'core', 'bare (same setup)', 'bare (node defaults)'],
  ]
  const verdicts = []
  for (const { figure, results } of rows) {
    const m = Object.fromEntries(SERVERS.map((k) => [k, median(results[k].values)]))
    const vsSame = m.core / m.bare
    const vsDefaults = m.core / m['bare-defaults']
    const shown = (k) => `${fmt(m[k] * figure.scale)} ${figure.unit}`
    lines.push([
      figure.name,
      shown('core'),
      shown('bare'),
      vsSame.toFixed(3),
      shown('bare-defaults'),
      vsDefaults.toFixed(3),
    ])
    const cpu = (k) => `${median(results[k].cpuPerOp).toFixed(1)} per ${figure.op}`
    cpuLines.push([figure.name, ...SERVERS.map(cpu)])
    const spread = (k) => {
      const v = results[k].values
      return `${(((Math.max(...v) - Math.min(...v)) / m[k]) * 100).toFixed(1)}%`
    }
    spreadLines.push([figure.name, ...SERVERS.map(spread)])
    const pass = (r) => `${r >= FLOOR ? 'PASS' : 'FAIL'} (${r.toFixed(3)})`
    verdicts.push(`${figure.name}: ${pass(vsSame)} vs same setup, ${pass(vsDefaults)} vs defaults`)
  }
  for (const table of [lines, spreadLines, cpuLines]) {
    const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)))
    const render = (row) =>
      row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
    console.log(`\n${table.map((row) => render(row).join(' | ')).join('\n')}`)
  }
  console.log(`\nFloor ${FLOOR} of bare node:net, per figure (median of ${ROUNDS} rounds):`)
  for (const verdict of verdicts) console.log(`  ${verdict}`)
}

console.log(
  `@verb-tcp/core vs bare node:net, Node ${process.version}, ${ROUNDS} interleaved rounds + 1 warm-up.\n` +
    'bare (same setup): setNoDelay(true), setKeepAlive(true, 60000), setTimeout(300000) with a\n' +
    "destroying 'timeout' handler and an 'error' listener, done by hand, as core does by default.\n" +
    'bare (node defaults): net.createServer with nothing added. Same echo handler everywhere.',
)
const servers = []
try {
  for (const kind of SERVERS)
    servers.push({ ...(await startServer(process.env.SAME ?? kind)), kind })
  const rows = []
  for (const figure of FIGURES) {
    process.stderr.write(`${figure.name} `)
    rows.push({ figure, results: await measureFigure(figure, servers) })
    process.stderr.write('\n')
  }
  printReport(rows)
  for (const server of servers.splice(0)) await server.stop()
} catch (error) {
  for (const server of servers) server.kill()
  console.error(error)
  process.exitCode = 1
}
