#!/usr/bin/env node
// The demo's benchmark: the client CLI's `bench` (one load generator, the same for everyone)
// against three servers, each in a process of its own: this demo server (logging at info,
// metrics on, as `npm start` runs it), a server written literally from the verb docs'
// `TCPMessageServer` with its framing made to work (bench/docs-server.mjs), and a socket.io
// server doing the same ping-pong and room fan-out (bench/socketio-server.mjs). Runs are
// interleaved, and the ratios are medians of per-round ratios.
//
// Each run also reports the CPU each process used over the measured seconds (in cores, from
// /proc on Linux): a generator near one full core is the bottleneck, not the server. `--targets
// trivial` runs the generator against bench/trivial-server.mjs, which does next to nothing per
// message, to know the generator's ceiling.
//
// Cross-check: every server counts what it sends (this server in its /metrics, the others on
// a line of stdin), and each run compares the server's count with the generator's, over the
// measured seconds (a rate) and over the whole run (exact, once what was in flight arrived).
//
//   node bench/run.mjs [--rounds N] [--duration S] [--connections N] [--processes N]
//                      [--targets verb,docs,...]
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { get } from 'node:http'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { cpuSeconds } from './cpu.mjs'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '1' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '100' },
    rooms: { type: 'string', default: '1' },
    window: { type: 'string', default: '10' },
    processes: { type: 'string' },
    targets: { type: 'string', default: 'verb,docs,socketio' },
    modes: { type: 'string', default: 'pingpong,fanout' },
  },
})
const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const CLI = here('../dist/cli.js')
const CLIENT = here('../dist/client.js')
const SERVERS = {
  docs: './docs-server.mjs',
  socketio: './socketio-server.mjs',
  trivial: './trivial-server.mjs',
}

/** The machine's CPU time so far, in seconds: everything busy, and the part in softirq. */
function machineCpu() {
  try {
    const [, ...f] = readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/)
    const [user, nice, system, idle, iowait, irq, softirq, steal] = f.map((x) => Number(x) / 100)
    return { busy: user + nice + system + irq + softirq + steal, softirq, idle: idle + iowait }
  } catch {
    return { busy: Number.NaN, softirq: Number.NaN, idle: Number.NaN }
  }
}

async function start(target) {
  const args =
    target === 'verb'
      ? [
          CLI,
          '--port',
          '0',
          '--message-port',
          '0',
          '--binary-port',
          '0',
          '--http-port',
          '0',
          '--log-level',
          'info',
        ]
      : [here(SERVERS[target]), '0']
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })
  const counted = [] // resolvers waiting for a `counts` line
  for await (const line of lines) {
    if (!line.includes('"listening"')) continue
    const parsed = JSON.parse(line)
    // Keep reading the server's log, as a terminal or a log shipper would.
    lines.on('line', (l) => {
      if (l.startsWith('{"counts"')) counted.shift()?.(JSON.parse(l).counts)
    })
    if (target === 'verb') {
      const http = parsed.ports.http
      return { child, port: parsed.ports.message, counts: () => metricsCounts(http) }
    }
    return {
      child,
      port: parsed.port,
      counts: () =>
        new Promise((resolve) => {
          counted.push(resolve)
          child.stdin.write('count\n')
        }),
    }
  }
  throw new Error(`${target} server did not start`)
}

/** What this server counts it sent, by type, from its Prometheus metrics. */
function metricsCounts(port) {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d) => {
        text += d
      })
      res.on('end', () => {
        const counts = {}
        for (const m of text.matchAll(
          /^verb_tcp_messages_sent_total\{port="message",type="([^"]+)"\} (\d+)$/gm,
        ))
          counts[m[1]] = Number(m[2])
        resolve(counts)
      })
    }).on('error', reject)
  })
}

async function bench(target, mode, server) {
  const child = spawn(
    process.execPath,
    [
      CLIENT,
      'bench',
      '--json',
      '--target',
      // The trivial server speaks json-frames, as the docs' does.
      target === 'trivial' ? 'docs' : target,
      '--mode',
      mode,
      '--message-port',
      String(server.port),
      '--connections',
      values.connections,
      '--duration',
      values.duration,
      '--warmup',
      values.warmup,
      '--rooms',
      values.rooms,
      '--window',
      values.window,
      ...(values.processes ? ['--processes', values.processes] : []),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let result
  let cpuAtStart = Number.NaN
  let serverCpu = Number.NaN
  let machineAtStart
  let machine = { busy: Number.NaN, softirq: Number.NaN }
  let startedAt = 0
  let seconds = 0
  // The type whose sends the server counts, one per message the generator counts.
  const type = mode === 'pingpong' ? 'pong' : 'room_message'
  let countedAtStart
  let countedAtEnd
  createInterface({ input: child.stdout }).on('line', (line) => {
    const parsed = JSON.parse(line)
    if (parsed.phase === 'measuring') {
      cpuAtStart = cpuSeconds(server.child.pid)
      machineAtStart = machineCpu()
      startedAt = performance.now()
      countedAtStart = server.counts()
    } else if (parsed.phase === 'done') {
      seconds = (performance.now() - startedAt) / 1000
      serverCpu = (cpuSeconds(server.child.pid) - cpuAtStart) / seconds
      const now = machineCpu()
      machine = {
        busy: (now.busy - machineAtStart.busy) / seconds,
        softirq: (now.softirq - machineAtStart.softirq) / seconds,
      }
      countedAtEnd = server.counts()
    } else result = parsed
  })
  const [code] = await once(child, 'close')
  if (code !== 0 || !result) throw new Error(`bench ${target} ${mode} exited with ${code}`)
  const serverRate =
    (((await countedAtEnd)[type] ?? 0) - ((await countedAtStart)[type] ?? 0)) / seconds
  const serverTotal = (await server.counts())[type] ?? 0
  return {
    ...result,
    target,
    serverCpu,
    machineBusy: machine.busy,
    machineSoftirq: machine.softirq,
    serverRate,
    serverTotal,
  }
}

const targets = values.targets.split(',')
const modes = values.modes.split(',')
const results = [] // { round, mode, target, ...result }
for (let round = 1; round <= Number(values.rounds); round++) {
  for (const mode of modes) {
    // A different order each round, so no target always runs on a warmer (or hotter) machine.
    const order = targets.map((_, i) => targets[(i + round - 1) % targets.length])
    for (const target of order) {
      const server = await start(target)
      try {
        const r = await bench(target, mode, server)
        results.push({ round, ...r })
        process.stderr.write(
          `round ${round} ${mode} ${target}: ${Math.round(r.messagesPerSecond)} msg/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, p999 ${r.p999.toFixed(2)} ms, cpu server ${r.serverCpu.toFixed(2)} client ${r.clientCpu.toFixed(2)} (${r.clientCpuPerMessage.toFixed(2)} µs/msg in ${r.processes} processes), machine busy ${r.machineBusy.toFixed(2)} (softirq ${r.machineSoftirq.toFixed(2)})\n` +
            `  cross-check: server counted ${Math.round(r.serverRate)} msg/s (${((r.serverRate / r.messagesPerSecond - 1) * 100).toFixed(2)}%), whole run ${r.serverTotal} sent, generator ${r.totalReceived} received${r.serverTotal === r.totalReceived ? ' (equal)' : ' (DIFFERENT)'}\n`,
        )
        // What neither process nor the kernel's packet work accounts for: someone else's load,
        // which makes the run worth less.
        const others = r.machineBusy - r.machineSoftirq - r.serverCpu - r.clientCpu
        if (others > 0.25) {
          process.stderr.write(
            `  warning: other processes used ${others.toFixed(2)} cores during this run\n`,
          )
        }
      } finally {
        server.child.kill('SIGKILL')
        await once(server.child, 'close')
      }
    }
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const of = (round, mode, target) =>
  results.find((r) => r.round === round && r.mode === mode && r.target === target)
const rounds = [...new Set(results.map((r) => r.round))]
console.log(
  `\n| mode | server | msgs/s | p50 ms | p99 ms | p999 ms | server cpu | client cpu | client µs/msg | server-counted msgs/s |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|`,
)
for (const mode of modes) {
  for (const target of targets) {
    const rs = results.filter((r) => r.mode === mode && r.target === target)
    const m = (k) => median(rs.map((r) => r[k]))
    console.log(
      `| ${mode} | ${target} | ${Math.round(m('messagesPerSecond')).toLocaleString('en-US')} | ${m('p50').toFixed(2)} | ${m('p99').toFixed(2)} | ${m('p999').toFixed(2)} | ${m('serverCpu').toFixed(2)} | ${m('clientCpu').toFixed(2)} | ${m('clientCpuPerMessage').toFixed(2)} | ${Math.round(m('serverRate')).toLocaleString('en-US')} |`,
    )
  }
}
console.log(
  `\n| mode | ratio | median of per-round ratios | per-round range | floor |\n|---|---|---:|---:|---|`,
)
const ratio = (mode, a, b, k, floor) => {
  const xs = rounds.map((n) => of(n, mode, a)[k] / of(n, mode, b)[k])
  const what = k === 'p99' ? 'p99' : 'msgs/s'
  console.log(
    `| ${mode} | ${what} ${a} / ${b} | ${median(xs).toFixed(2)}× | ${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}× | ${floor} |`,
  )
}
for (const mode of modes) {
  if (targets.includes('verb')) {
    for (const peer of targets.filter((t) => t !== 'verb')) {
      const sio = peer === 'socketio'
      ratio(
        mode,
        'verb',
        peer,
        'messagesPerSecond',
        sio ? (mode === 'pingpong' ? '≥ 2.5×' : '≥ 6×') : '',
      )
      ratio(mode, 'verb', peer, 'p99', sio ? '≤ 0.5×' : '')
    }
  }
  // What the generator can show at all: the server that does nothing against socket.io.
  if (targets.includes('trivial') && targets.includes('socketio')) {
    ratio(mode, 'trivial', 'socketio', 'messagesPerSecond', 'the ceiling')
    ratio(mode, 'trivial', 'socketio', 'p99', 'the ceiling')
  }
}
