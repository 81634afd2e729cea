import { connectMessages, explain, type Msg } from './message-connection.ts'
import { fmt, latencyHistogram, percentiles } from './stats.ts'

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
  json: boolean
}

/** One client connection, whatever the server speaks. */
interface Conn {
  send(message: Msg): void
  onMessage(listener: (message: Msg) => void): void
  close(): void
}

async function openJson(host: string, port: number): Promise<Conn> {
  const c = await connectMessages(host, port)
  return {
    send: (m) => c.send(m),
    onMessage: (listener) => c.handler.on('message', listener),
    close: () => c.socket.destroy(),
  }
}

async function openSocketIo(host: string, port: number): Promise<Conn> {
  // socket.io-client is a dev dependency, only loaded for this comparison.
  const { io } = await import('socket.io-client')
  const socket = io(`http://${host}:${port}`, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('connect_error', reject)
  })
  return {
    send: (m) => socket.send(m),
    onMessage: (listener) => socket.on('message', listener),
    close: () => socket.disconnect(),
  }
}

/** A request and its answer, to know the server has handled everything sent before it. */
function roundTrip(conn: Conn, id: string): Promise<void> {
  return new Promise((resolve) => {
    conn.onMessage((m) => {
      if (m.type === 'pong' && m.id === id) resolve()
    })
    conn.send({ type: 'ping', id })
  })
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
}

/**
 * `bench`: like autocannon for this server. Ping-pong: every connection keeps one ping in
 * flight and sends the next when the pong arrives; a round trip is one message. Fan-out: the
 * connections are spread over rooms; one member of each room sends room messages, at most
 * `window` not yet delivered to every other member, and each delivery is one message, timed
 * from the send. Nothing is counted during the warm-up.
 */
export async function runBench(options: BenchOptions): Promise<BenchResult | undefined> {
  const { host, port, mode, connections, target } = options
  const open = target === 'socketio' ? openSocketIo : openJson
  let conns: Conn[]
  try {
    conns = []
    // A few at a time: a thousand connects at once would only measure the listen backlog.
    for (let i = 0; i < connections; i += 50) {
      const batch = Math.min(50, connections - i)
      conns.push(...(await Promise.all(Array.from({ length: batch }, () => open(host, port)))))
    }
  } catch (error) {
    process.stderr.write(`demo-client: ${explain(error, host, port)}\n`)
    process.exitCode = 1
    return undefined
  }

  const histogram = latencyHistogram()
  let measuring = false
  let running = true
  let count = 0
  const record = (sentAt: number) => {
    if (!measuring) return
    count++
    histogram.record(Math.max(1, Math.round((performance.now() - sentAt) * 1000)))
  }

  const rooms = Math.min(options.rooms, conns.length)
  if (mode === 'pingpong') {
    for (const [i, conn] of conns.entries()) {
      let sentAt = 0
      let seq = 0
      const next = () => {
        if (!running) return
        sentAt = performance.now()
        conn.send({ type: 'ping', id: ++seq, c: i })
      }
      conn.onMessage((m) => {
        if (m.type !== 'pong' || m.id !== seq) return
        record(sentAt)
        next()
      })
      next()
    }
  } else {
    // Everyone joins first; a round trip after the join proves the server has it.
    await Promise.all(
      conns.map(async (conn, i) => {
        conn.send({ type: 'join_room', room: `bench-${i % rooms}` })
        await roundTrip(conn, `joined-${i}`)
      }),
    )
    for (let r = 0; r < rooms; r++) {
      const members = conns.filter((_, i) => i % rooms === r)
      const [sender, ...receivers] = members
      if (!sender || receivers.length === 0) continue
      const room = `bench-${r}`
      const pending = new Map<number, number>() // seq -> deliveries still to come
      let seq = 0
      const send = () => {
        while (running && pending.size < options.window) {
          pending.set(++seq, receivers.length)
          sender.send({ type: 'room_message', room, data: { s: seq, t: performance.now() } })
        }
      }
      for (const receiver of receivers) {
        receiver.onMessage((m) => {
          if (m.type !== 'room_message' || m.room !== room) return
          const { s, t } = m.data as { s: number; t: number }
          record(t)
          const left = (pending.get(s) ?? 1) - 1
          if (left > 0) pending.set(s, left)
          else {
            pending.delete(s)
            send()
          }
        })
      }
      send()
    }
  }

  await new Promise((resolve) => setTimeout(resolve, options.warmup * 1000))
  // With --json, the measured window is announced, so a driver can sample the server's CPU over
  // the same seconds (is the server or this generator the bottleneck?).
  if (options.json) process.stdout.write(`${JSON.stringify({ phase: 'measuring' })}\n`)
  measuring = true
  const start = performance.now()
  const cpuAtStart = process.cpuUsage()
  await new Promise((resolve) => setTimeout(resolve, options.duration * 1000))
  measuring = false
  const seconds = (performance.now() - start) / 1000
  const cpu = process.cpuUsage(cpuAtStart)
  if (options.json) process.stdout.write(`${JSON.stringify({ phase: 'done' })}\n`)
  running = false
  for (const conn of conns) conn.close()

  const { p50, p99, p999 } = percentiles(histogram)
  const result: BenchResult = {
    target,
    mode,
    connections,
    rooms: mode === 'fanout' ? rooms : 0,
    seconds,
    messagesPerSecond: count / seconds,
    p50,
    p99,
    p999,
    clientCpu: (cpu.user + cpu.system) / 1e6 / seconds,
  }
  if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`)
  else {
    const what =
      mode === 'pingpong' ? 'round trips' : `room deliveries (${rooms} room${rooms > 1 ? 's' : ''})`
    process.stdout.write(
      `${target} ${mode}: ${connections} connections, ${fmt(seconds, 1)} s\n` +
        `  ${fmt(result.messagesPerSecond, 0)} ${what}/s\n` +
        `  latency p50 ${fmt(p50)} ms, p99 ${fmt(p99)} ms, p999 ${fmt(p999)} ms\n` +
        `  this client used ${fmt(result.clientCpu * 100, 0)}% of a core\n`,
    )
  }
  return result
}
