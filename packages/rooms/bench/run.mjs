// Room fan-out benchmark: @verb-tcp/rooms against the verb docs' loop and socket.io 4.8 rooms,
// each server in a process of its own, driven by the same client processes, interleaved runs.
//
//   node bench/run.mjs [--runs 3] [--scenarios n100,n500,single5000] [--impls verb,docs,socketio]
//                      [--procs 4] [--deliveries 1000000] [--quick]
//
// Scenarios: nN = N clients each broadcasting to a room of all N (N² deliveries per round);
// singleM = one sender to a room of M members. Reported per implementation: deliveries/s
// (deliveries counted by the receivers, from the start signal to the last one done; latency
// samples after a warm-up), server CPU µs per delivery (user +
// system of the server process over the same window), p99 latency (send to receipt, one
// message in 8 sampled). Ratios are medians of per-run ratios against verb.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    scenarios: { type: 'string', default: 'n100,n500,single5000' },
    impls: { type: 'string', default: 'verb,docs,socketio' },
    procs: { type: 'string', default: '4' },
    quick: { type: 'boolean', default: false },
    deliveries: { type: 'string', default: '1000000' },
    timeout: { type: 'string', default: '180' },
  },
})
const runs = Number(values.runs)
const procs = Number(values.procs)
const impls = values.impls.split(',')
const scenarios = values.scenarios.split(',').map((name) => {
  const fan = /^n(\d+)$/.exec(name)
  if (fan) {
    const members = Number(fan[1])
    // Enough rounds for about a million measured deliveries (fewer with --quick).
    const rounds = Math.max(
      6,
      Math.ceil((values.quick ? 2e5 : Number(values.deliveries)) / (members * (members - 1))),
    )
    const warm = Math.max(2, Math.ceil(rounds / 8))
    return { name, mode: 'fanout', members, rounds: rounds + warm, warm, window: 4 }
  }
  const single = /^single(\d+)$/.exec(name)
  if (single) {
    const members = Number(single[1])
    const rounds = Math.ceil((values.quick ? 2e5 : Number(values.deliveries)) / (members - 1))
    const warm = Math.max(10, Math.ceil(rounds / 8))
    return { name, mode: 'single', members, rounds: rounds + warm, warm, window: 16 }
  }
  throw new Error(`unknown scenario ${name}`)
})

const here = (file) => fileURLToPath(new URL(file, import.meta.url))

function child(file, args, env = {}) {
  const proc = fork(here(file), args, {
    env: { ...process.env, ...env },
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const waiting = []
  const queue = []
  proc.on('message', (message) => {
    const i = waiting.findIndex((w) => w.type === message.type)
    if (i === -1) queue.push(message)
    else waiting.splice(i, 1)[0].resolve(message)
  })
  return {
    proc,
    send: (message) => proc.send(message),
    next(type) {
      const i = queue.findIndex((m) => m.type === type)
      if (i !== -1) return Promise.resolve(queue.splice(i, 1)[0])
      return new Promise((resolve) => waiting.push({ type, resolve }))
    },
    on: (handler) => proc.on('message', handler),
  }
}

const RUN_TIMEOUT_MS = Number(values.timeout) * 1000

async function runOnce(impl, scenario) {
  const server = child('server.mjs', [impl])
  const started = [server]
  // A run that stalls (a lost delivery, a starved client process) is given up, not waited for.
  let giveUp
  const gaveUp = new Promise((resolve) => {
    giveUp = setTimeout(() => {
      console.error(`${scenario.name} ${impl}: no result after ${RUN_TIMEOUT_MS / 1000} s, skipped`)
      for (const c of started) c.proc.kill('SIGKILL')
      resolve(undefined)
    }, RUN_TIMEOUT_MS)
  })
  const result = await Promise.race([gaveUp, measure(impl, scenario, server, started)])
  clearTimeout(giveUp)
  return result
}

async function measure(impl, scenario, server, started) {
  const { port } = await server.next('ready')
  const per = Math.ceil(scenario.members / procs)
  const clients = []
  for (let first = 0; first < scenario.members; first += per) {
    const count = Math.min(per, scenario.members - first)
    const job = { impl, port, count, first, ...scenario }
    const c = child('clients.mjs', [], { JOB: JSON.stringify(job) })
    clients.push(c)
    started.push(c)
  }
  await Promise.all(clients.map((c) => c.next('ready')))
  let memberCount = 0
  for (let i = 0; i < 200 && memberCount < scenario.members; i++) {
    server.send({ type: 'cpu' })
    memberCount = (await server.next('cpu')).clients
    if (memberCount < scenario.members) await new Promise((r) => setTimeout(r, 10))
  }

  if (scenario.mode === 'single') {
    // Credit for the sender: the slowest receiver's count plus the window.
    const mins = clients.map(() => 0)
    for (const [i, c] of clients.entries()) {
      c.on((m) => {
        if (m.type !== 'progress') return
        mins[i] = m.min
        clients[0].send({ type: 'credit', credit: Math.min(...mins) + scenario.window })
      })
    }
    clients[0].send({ type: 'credit', credit: scenario.window })
  }
  // The window runs from the start signal to the last receiver's done: with hundreds of clients
  // the rounds overlap so much that a warm-up mark lands near the end and measures nothing.
  // The servers are warm already (every client connected and joined, notices sent).
  server.send({ type: 'cpu' })
  const cpuStart = (await server.next('cpu')).cpuUs
  const startedAt = performance.now()
  for (const c of clients) c.send({ type: 'start' })
  const done = await Promise.all(clients.map((c) => c.next('done')))
  const end = performance.now()
  server.send({ type: 'cpu' })
  const cpuEnd = (await server.next('cpu')).cpuUs
  const deliveries =
    scenario.mode === 'fanout'
      ? scenario.rounds * scenario.members * (scenario.members - 1)
      : scenario.rounds * (scenario.members - 1)
  const latencies = done.flatMap((d) => d.latencies).sort((a, b) => a - b)
  const p99 = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))]
  for (const c of clients) c.send({ type: 'exit' })
  server.send({ type: 'exit' })
  await Promise.all([server, ...clients].map((c) => new Promise((r) => c.proc.once('exit', r))))
  return {
    seconds: (end - startedAt) / 1000,
    deliveriesPerSecond: deliveries / ((end - startedAt) / 1000),
    cpuUsPerDelivery: (cpuEnd - cpuStart) / deliveries,
    p99Ms: p99,
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const fmt = (n, d = 2) => (n >= 100 ? n.toFixed(0) : n.toFixed(d))

console.log(`node ${process.version}, ${procs} client processes, ${runs} interleaved runs`)
const table = []
for (const scenario of scenarios) {
  const results = Object.fromEntries(impls.map((i) => [i, []]))
  for (let run = 0; run < runs; run++) {
    // Rotate the order each run so no implementation always goes first.
    const order = impls.map((_, i) => impls[(i + run) % impls.length])
    for (const impl of order) {
      const r = await runOnce(impl, scenario)
      results[impl].push(r)
      if (!r) continue
      console.log(
        `${scenario.name} run ${run + 1} ${impl}: ${fmt(r.deliveriesPerSecond / 1e3)}k deliveries/s, ` +
          `${fmt(r.cpuUsPerDelivery, 3)} µs CPU/delivery, p99 ${fmt(r.p99Ms)} ms (${fmt(r.seconds)} s)`,
      )
    }
  }
  for (const impl of impls) {
    const all = results[impl]
    const verb = results.verb ?? all
    const rs = all.filter(Boolean)
    if (rs.length === 0) continue
    const pairs = all.map((r, i) => [verb[i], r]).filter(([v, r]) => v && r)
    table.push({
      scenario: scenario.name,
      impl,
      dps: median(rs.map((r) => r.deliveriesPerSecond)),
      cpu: median(rs.map((r) => r.cpuUsPerDelivery)),
      p99: median(rs.map((r) => r.p99Ms)),
      runs: rs.length,
      // Medians of per-run ratios: verb's deliveries/s over this one's, verb's CPU over this one's.
      speedup: median(pairs.map(([v, r]) => v.deliveriesPerSecond / r.deliveriesPerSecond)),
      cpuShare: median(pairs.map(([v, r]) => v.cpuUsPerDelivery / r.cpuUsPerDelivery)),
    })
  }
}
console.log(
  '\n| scenario | server | runs | deliveries/s | server CPU µs/delivery | p99 latency | verb deliveries/s ÷ this | verb CPU/delivery ÷ this |',
)
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const row of table) {
  console.log(
    `| ${row.scenario} | ${row.impl} | ${row.runs} | ${fmt(row.dps / 1e3, 0)}k | ${fmt(row.cpu, 3)} | ${fmt(row.p99, 1)} ms | ${fmt(row.speedup)}× | ${fmt(row.cpuShare, 3)} |`,
  )
}
