#!/usr/bin/env node
// New connections per second with `--workers 1` and `--workers 2`, on the same load, interleaved
// (the server logging at info, as `npm start` runs it):
// a generator process of its own keeps `--parallel` clients connecting to the message port, each
// connecting again as soon as its previous connection got its `welcome`, for `--duration`
// seconds after a `--warmup`. Each run prints the connections per second, the CPU the server
// (the primary and its workers) and the generator used over the measured seconds, in cores,
// and the median of the per-round ratios workers 2 / workers 1. On a machine with fewer cores
// than workers + generator, the generator's share says how much of the machine was left to the
// server.
//
//   node bench/workers.mjs [--rounds N] [--duration S] [--warmup S] [--parallel N]
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { cpuSeconds } from './cpu.mjs'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    parallel: { type: 'string', default: '32' },
    generate: { type: 'string' },
  },
})
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

/** The pid and its children's pids (the cluster's workers). */
function tree(pid) {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
    return [pid, ...children]
  } catch {
    return [pid]
  }
}
const cpuOf = (pids) => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0)

// -- the generator, in a process of its own ------------------------------------------------------
if (values.generate !== undefined) {
  const port = Number(values.generate)
  let greeted = 0
  let failed = 0
  let stopped = false
  const one = () =>
    new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1')
      let done = false
      const settle = (ok) => {
        if (done) return
        done = true
        if (ok) greeted++
        else failed++
        socket.destroy()
        resolve()
      }
      // The welcome is the first frame; its type is all this needs to see.
      socket.on('data', (chunk) => settle(chunk.includes('"welcome"')))
      socket.on('error', () => settle(false))
      socket.on('close', () => settle(false))
    })
  const loops = Array.from({ length: Number(values.parallel) }, async () => {
    while (!stopped) await one()
  })
  // The parent asks for counts on stdin ("mark" lines) and stops it with "stop".
  createInterface({ input: process.stdin }).on('line', async (line) => {
    if (line === 'stop') {
      stopped = true
      await Promise.all(loops)
    }
    process.stdout.write(`${JSON.stringify({ greeted, failed, cpu: cpuSeconds(process.pid) })}\n`)
    if (line === 'stop') process.exit(0)
  })
} else {
  await main()
}

async function startServer(workers) {
  // Logging at info, as `npm start` runs it (a line per connection, for both sizes alike).
  const args = ['--port', '0', '--message-port', '0', '--binary-port', '0', '--http-port', '0']
  args.push('--workers', String(workers), '--rooms', 'per-worker')
  args.push('--upload-dir', '/tmp/verb-tcp-bench-workers')
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  // Every line is read to the end: the server's log writes are synchronous, and a full pipe
  // would stall it.
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.includes('"msg":"listening"')) return
      resolve({ child, port: JSON.parse(line).ports.message })
    })
    child.once('exit', () => reject(new Error('server exited before listening')))
  })
}

async function measure(workers) {
  const server = await startServer(workers)
  const generator = spawn(
    process.execPath,
    [
      fileURLToPath(import.meta.url),
      '--generate',
      String(server.port),
      '--parallel',
      values.parallel,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  const replies = createInterface({ input: generator.stdout })[Symbol.asyncIterator]()
  const ask = async (what) => {
    generator.stdin.write(`${what}\n`)
    return JSON.parse((await replies.next()).value)
  }
  await new Promise((r) => setTimeout(r, Number(values.warmup) * 1000))
  const pids = tree(server.child.pid)
  const start = await ask('mark')
  const serverCpu0 = cpuOf(pids)
  const primaryCpu0 = cpuSeconds(pids[0])
  const t0 = process.hrtime.bigint()
  await new Promise((r) => setTimeout(r, Number(values.duration) * 1000))
  const end = await ask('mark')
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const serverCpu = (cpuOf(pids) - serverCpu0) / seconds
  const primaryCpu = (cpuSeconds(pids[0]) - primaryCpu0) / seconds
  await ask('stop')
  server.child.kill('SIGTERM')
  await once(server.child, 'exit')
  return {
    workers,
    rate: (end.greeted - start.greeted) / seconds,
    failed: end.failed,
    serverCpu,
    primaryCpu,
    generatorCpu: (end.cpu - start.cpu) / seconds,
  }
}

async function main() {
  const rounds = Number(values.rounds)
  const ratios = []
  const fmt = (n) => n.toLocaleString('en-US', { maximumFractionDigits: 0 })
  for (let round = 1; round <= rounds; round++) {
    // Alternate which goes first, so neither always runs on a warmer machine.
    const order = round % 2 === 1 ? [1, 2] : [2, 1]
    const results = {}
    for (const workers of order) results[workers] = await measure(workers)
    for (const r of Object.values(results)) {
      console.log(
        `round ${round} --workers ${r.workers}: ${fmt(r.rate)} connections/s, failed ${r.failed}, server cpu ${r.serverCpu.toFixed(2)} cores${r.workers > 1 ? ` (primary ${r.primaryCpu.toFixed(2)})` : ''}, generator cpu ${r.generatorCpu.toFixed(2)} cores`,
      )
    }
    ratios.push(results[2].rate / results[1].rate)
  }
  ratios.sort((a, b) => a - b)
  const median = ratios[Math.floor(ratios.length / 2)]
  console.log(
    `workers 2 / workers 1: median ${median.toFixed(2)}x (rounds ${ratios.map((r) => r.toFixed(2)).join(', ')})`,
  )
}
