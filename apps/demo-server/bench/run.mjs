#!/usr/bin/env node
// The demo's benchmark: the client CLI's `bench` (one load generator, the same for everyone)
// against three servers, each in a process of its own: this demo server (logging at info,
// metrics on, as `npm start` runs it), a server written literally from the verb docs'
// `TCPMessageServer` with its framing made to work (bench/docs-server.mjs), and a socket.io
// server doing the same ping-pong and room fan-out (bench/socketio-server.mjs). Runs are
// interleaved, and the ratios are medians of per-round ratios.
//
//   flock /work/bench.lock node bench/run.mjs [--rounds N] [--duration S] [--connections N]
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '1' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '100' },
    rooms: { type: 'string', default: '1' },
    window: { type: 'string', default: '10' },
  },
})
const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const CLI = here('../dist/cli.js')
const CLIENT = here('../dist/client.js')

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
      : [here(target === 'docs' ? './docs-server.mjs' : './socketio-server.mjs'), '0']
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })
  for await (const line of lines) {
    if (!line.includes('"listening"')) continue
    const parsed = JSON.parse(line)
    // Keep reading the server's log, as a terminal or a log shipper would.
    lines.on('line', () => {})
    return { child, port: target === 'verb' ? parsed.ports.message : parsed.port }
  }
  throw new Error(`${target} server did not start`)
}

async function bench(target, mode, port) {
  const child = spawn(
    process.execPath,
    [
      CLIENT,
      'bench',
      '--json',
      '--target',
      target,
      '--mode',
      mode,
      '--message-port',
      String(port),
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
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let out = ''
  child.stdout.on('data', (d) => {
    out += d
  })
  const [code] = await once(child, 'close')
  if (code !== 0) throw new Error(`bench ${target} ${mode} exited with ${code}`)
  return JSON.parse(out.trim().split('\n').at(-1))
}

const targets = ['verb', 'docs', 'socketio']
const modes = ['pingpong', 'fanout']
const results = [] // { round, mode, target, ...result }
for (let round = 1; round <= Number(values.rounds); round++) {
  for (const mode of modes) {
    // A different order each round, so no target always runs on a warmer (or hotter) machine.
    const order = targets.map((_, i) => targets[(i + round - 1) % targets.length])
    for (const target of order) {
      const server = await start(target)
      try {
        const r = await bench(target, mode, server.port)
        results.push({ round, ...r })
        process.stderr.write(
          `round ${round} ${mode} ${target}: ${Math.round(r.messagesPerSecond)} msg/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, p999 ${r.p999.toFixed(2)} ms\n`,
        )
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
  `\n| mode | server | msgs/s | p50 ms | p99 ms | p999 ms |\n|---|---|---:|---:|---:|---:|`,
)
for (const mode of modes) {
  for (const target of targets) {
    const rs = results.filter((r) => r.mode === mode && r.target === target)
    const m = (k) => median(rs.map((r) => r[k]))
    console.log(
      `| ${mode} | ${target} | ${Math.round(m('messagesPerSecond')).toLocaleString('en-US')} | ${m('p50').toFixed(2)} | ${m('p99').toFixed(2)} | ${m('p999').toFixed(2)} |`,
    )
  }
}
console.log(`\n| mode | ratio | median of per-round ratios | floor |\n|---|---|---:|---|`)
for (const mode of modes) {
  for (const peer of ['socketio', 'docs']) {
    const tput = median(
      rounds.map(
        (k) => of(k, mode, 'verb').messagesPerSecond / of(k, mode, peer).messagesPerSecond,
      ),
    )
    const p99 = median(rounds.map((k) => of(k, mode, 'verb').p99 / of(k, mode, peer).p99))
    const floor = peer === 'socketio' ? (mode === 'pingpong' ? '≥ 2.5×' : '≥ 6×') : ''
    console.log(`| ${mode} | msgs/s verb / ${peer} | ${tput.toFixed(2)}× | ${floor} |`)
    console.log(
      `| ${mode} | p99 verb / ${peer} | ${p99.toFixed(2)}× | ${peer === 'socketio' ? '≤ 0.5×' : ''} |`,
    )
  }
}
