import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { LatencyHistogram } from './bench-histogram.ts'
import { type FromWorker, ownerOf, type ToWorker, type WorkerConfig } from './bench-worker.ts'
import { explain } from './message-connection.ts'
import { fmt } from './stats.ts'

export interface BenchOptions {
  host: string
  port: number
  mode: 'pingpong' | 'fanout'
  /** `verb` and `docs` speak json-frames; `socketio` is socket.io over WebSocket. */
  target: 'verb' | 'docs' | 'socketio'
  connections: number
  /** Seconds measured. */
  duration: number
  /** Seconds run before measuring. */
  warmup: number
  rooms: number
  window: number
  /** Generator processes, each with a share of the connections. */
  processes: number
  json: boolean
}

export interface BenchResult {
  target: string
  mode: string
  connections: number
  rooms: number
  seconds: number
  /** Round trips (pingpong) or room messages delivered (fanout), per second. */
  messagesPerSecond: number
  p50: number
  p99: number
  p999: number
  /** The generator's own CPU time over the measured seconds, in cores (1 = one core busy). */
  clientCpu: number
  /** The generator's CPU time per message counted, in microseconds. */
  clientCpuPerMessage: number
  processes: number
  /**
   * Everything the generator sent (pings, room messages) and received (pongs, room
   * deliveries) over the whole run, warm-up included, counted once what was in flight has
   * arrived: what the server counts it sent must be the same.
   */
  totalSent: number
  totalReceived: number
}

/**
 * `bench`: like autocannon for this server. Ping-pong: every connection keeps one ping in
 * flight and sends the next when the pong arrives; a round trip is one message. Fan-out: the
 * connections are spread over rooms; one member of each room sends room messages, at most
 * `window` not yet delivered to every other member, and each delivery is one message, timed
 * from the send. Nothing is counted during the warm-up.
 *
 * The generator is built to cost less per message than any server it measures: the
 * connections are shared among `processes` processes; every ping is the same bytes, encoded
 * once; a reply is recognised by its first bytes (`{"type":"pong"`), not parsed; a room
 * message's send time travels in it (fixed width, read back without parsing the rest), its
 * sequence number is its rank on the connection (one sender per room, delivered in order); the
 * sender refills its window once per turn, in one write. socket.io is spoken the same way
 * (engine.io packets in WebSocket frames, encoded once), not through socket.io-client.
 */
export async function runBench(options: BenchOptions): Promise<BenchResult | undefined> {
  const { host, port, mode, connections, target } = options
  const processes = Math.min(options.processes, connections)
  const rooms = Math.min(options.rooms, connections)
  const epochUs = Math.round((performance.timeOrigin + performance.now()) * 1000)
  const workers: ChildProcess[] = []
  const inbox: FromWorker[][] = []
  const waiters: (() => void)[] = []
  const tell = (w: number, m: ToWorker) => {
    workers[w]?.send(m)
  }
  const all = (m: ToWorker) => {
    for (const child of workers) child.send(m)
  }
  /** The next message of `ev` from every worker. */
  const collect = async <E extends FromWorker['ev']>(ev: E) => {
    const out: Extract<FromWorker, { ev: E }>[] = []
    for (const box of inbox) {
      for (;;) {
        const at = box.findIndex((m) => m.ev === ev || m.ev === 'failed')
        if (at >= 0) {
          const [m] = box.splice(at, 1) as [FromWorker]
          if (m.ev === 'failed') throw Object.assign(new Error(m.message), { code: m.code })
          out.push(m as Extract<FromWorker, { ev: E }>)
          break
        }
        await new Promise<void>((resolve) => waiters.push(resolve))
      }
    }
    return out
  }
  for (let w = 0; w < processes; w++) {
    const child = fork(process.argv[1] as string, ['bench-worker'], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    inbox.push([])
    child.on('message', (m: FromWorker) => {
      // Fan-out progress goes on to the process that holds the room's sender (connection
      // number `room`).
      if (m.ev === 'progress') {
        tell(ownerOf(m.room, processes), { cmd: 'progress', ...m })
        return
      }
      inbox[w]?.push(m)
      for (const wake of waiters.splice(0)) wake()
    })
    child.on('exit', (code) => {
      if (code !== 0)
        inbox[w]?.push({ ev: 'failed', message: `generator process exited with ${code}` })
      for (const wake of waiters.splice(0)) wake()
    })
    workers.push(child)
  }
  const config = (worker: number): WorkerConfig => ({
    host,
    port,
    target,
    mode,
    connections,
    processes,
    worker,
    rooms,
    window: options.window,
    epochUs,
  })
  try {
    for (let w = 0; w < workers.length; w++) tell(w, { cmd: 'setup', config: config(w) })
    await collect('ready')
  } catch (error) {
    for (const child of workers) child.kill()
    const code = (error as NodeJS.ErrnoException).code
    process.stderr.write(
      `demo-client: ${code ? explain(error, host, port) : (error as Error).message}\n`,
    )
    process.exitCode = 1
    return undefined
  }

  const sleep = (s: number) => new Promise((resolve) => setTimeout(resolve, s * 1000))
  all({ cmd: 'go' })
  await sleep(options.warmup)
  // With --json, the measured window is announced, so a driver can sample the server's CPU
  // and counters over the same seconds.
  if (options.json) process.stdout.write(`${JSON.stringify({ phase: 'measuring' })}\n`)
  const ownCpu = process.cpuUsage()
  all({ cmd: 'measure' })
  await sleep(options.duration)
  all({ cmd: 'measured' })
  const measured = await collect('measured')
  if (options.json) process.stdout.write(`${JSON.stringify({ phase: 'done' })}\n`)
  const own = process.cpuUsage(ownCpu)
  all({ cmd: 'stop' })
  const totals = await collect('totals')
  await Promise.all(workers.map((child) => (child.exitCode === null ? once(child, 'exit') : null)))

  const histogram = new LatencyHistogram()
  for (const m of measured) histogram.add(m.histogram)
  const seconds = Math.max(...measured.map((m) => m.seconds))
  const messagesPerSecond = measured.reduce((n, m) => n + m.count / m.seconds, 0)
  const cpuSeconds = measured.reduce((n, m) => n + m.cpuSeconds, 0) + (own.user + own.system) / 1e6
  const result: BenchResult = {
    target,
    mode,
    connections,
    rooms: mode === 'fanout' ? rooms : 0,
    seconds,
    messagesPerSecond,
    p50: histogram.percentile(50),
    p99: histogram.percentile(99),
    p999: histogram.percentile(99.9),
    clientCpu: cpuSeconds / seconds,
    clientCpuPerMessage: (cpuSeconds * 1e6) / (messagesPerSecond * seconds),
    processes,
    totalSent: totals.reduce((n, m) => n + m.sent, 0),
    totalReceived: totals.reduce((n, m) => n + m.received, 0),
  }
  if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`)
  else {
    const what =
      mode === 'pingpong' ? 'round trips' : `room deliveries (${rooms} room${rooms > 1 ? 's' : ''})`
    process.stdout.write(
      `${target} ${mode}: ${connections} connections, ${fmt(seconds, 1)} s\n` +
        `  ${fmt(result.messagesPerSecond, 0)} ${what}/s\n` +
        `  latency p50 ${fmt(result.p50)} ms, p99 ${fmt(result.p99)} ms, p999 ${fmt(result.p999)} ms\n` +
        `  this client used ${fmt(result.clientCpu * 100, 0)}% of a core in ${processes} process${processes > 1 ? 'es' : ''}, ${fmt(result.clientCpuPerMessage)} µs a message\n`,
    )
  }
  return result
}
