import type { Socket } from 'node:net'
import { LatencyHistogram } from './bench-histogram.ts'
import { jsonFrames, socketIo, type Wire } from './bench-wire.ts'

/** What the coordinating process tells one generator process. */
export interface WorkerConfig {
  host: string
  port: number
  target: 'verb' | 'docs' | 'socketio'
  mode: 'pingpong' | 'fanout'
  /** Every connection of the run is numbered; this process owns `i % processes === worker`. */
  connections: number
  processes: number
  worker: number
  rooms: number
  window: number
  /** The run's time origin, in µs of the wall clock, for latencies measured in another process. */
  epochUs: number
}

export type ToWorker =
  | { cmd: 'setup'; config: WorkerConfig }
  | { cmd: 'go' }
  | { cmd: 'measure' }
  | { cmd: 'measured' }
  | { cmd: 'stop' }
  | { cmd: 'progress'; room: number; worker: number; min: number }

export type FromWorker =
  | { ev: 'ready' }
  | { ev: 'failed'; message: string; code?: string }
  | { ev: 'progress'; room: number; worker: number; min: number }
  | {
      ev: 'measured'
      count: number
      seconds: number
      cpuSeconds: number
      histogram: [number, number][]
    }
  | { ev: 'totals'; sent: number; received: number }

const send = (m: FromWorker) => process.send?.(m)
const nowUs = () => (performance.timeOrigin + performance.now()) * 1000
const T_KEY = Buffer.from('"t":"')
const T_DIGITS = 10

interface Conn {
  index: number
  socket: Socket
  rest: Buffer | undefined
  sentAt: number
  outstanding: boolean
  /** Room messages this connection has received: its n-th is the room's n-th (one sender). */
  received: number
  /** Where the send time is in this connection's room messages, from the payload's start. */
  tOffset: number
}

/** Which process owns connection `i`. */
export const ownerOf = (i: number, processes: number) => i % processes

/** One generator process: its share of the connections, driven by the coordinator's commands. */
export function runBenchWorker(): void {
  let config: WorkerConfig
  let wire: Wire
  const conns: Conn[] = []
  const histogram = new LatencyHistogram()
  let measuring = false
  let running = false
  let count = 0
  let received = 0
  let sent = 0
  let measureStart = 0
  let cpuAtStart = process.cpuUsage()

  // Ping-pong: every connection keeps one ping in flight; the same frame every time.
  let ping: Buffer
  let pong: Buffer
  // Fan-out: receivers recognise a room message by its first bytes.
  let roomPrefix: Buffer
  const senders = new Map<number, RoomSender>()
  const tracks = new Map<number, RoomTrack>()
  const dirty = new Set<RoomTrack>()
  let flushScheduled = false

  const matches = (buf: Buffer, start: number, end: number, prefix: Buffer) => {
    if (end - start < prefix.length) return false
    for (let k = 0; k < prefix.length; k++) if (buf[start + k] !== prefix[k]) return false
    return true
  }

  const record = (us: number) => {
    if (!measuring) return
    count++
    histogram.record(us)
  }

  function onPingPong(conn: Conn, buf: Buffer, start: number, end: number) {
    if (!matches(buf, start, end, pong)) return
    received++
    const now = performance.now()
    record((now - conn.sentAt) * 1000)
    if (running) {
      conn.sentAt = now
      sent++
      conn.socket.write(ping)
    } else conn.outstanding = false
  }

  /** One room's sender: keeps at most `window` messages not yet delivered to every member. */
  class RoomSender {
    sent = 0
    readonly min = new Map<number, number>()
    constructor(
      readonly room: number,
      readonly conn: Conn,
      /** This room's message, with a zero send time to fill in. */
      readonly template: Buffer,
      reporting: number[],
    ) {
      for (const w of reporting) this.min.set(w, 0)
    }
    progress(worker: number, min: number) {
      this.min.set(worker, min)
      this.fill()
    }
    fill() {
      if (!running) return
      let slowest = Number.POSITIVE_INFINITY
      for (const m of this.min.values()) if (m < slowest) slowest = m
      if (this.min.size === 0) slowest = this.sent
      const k = Math.min(config.window - (this.sent - slowest), config.window)
      if (k <= 0) return
      // The freed slots leave in one write, each message stamped with its send time.
      const template = this.template
      const size = template.length
      const out = Buffer.allocUnsafe(size * k)
      const t = String(Math.round(nowUs() - config.epochUs)).padStart(T_DIGITS, '0')
      const at = template.indexOf(T_KEY) + T_KEY.length
      for (let j = 0; j < k; j++) {
        template.copy(out, j * size)
        out.write(t, j * size + at, T_DIGITS, 'latin1')
      }
      this.sent += k
      sent += k
      this.conn.socket.write(out)
    }
  }

  /** This process's receivers of one room: how far all of them have got. */
  class RoomTrack {
    min = 0
    readonly got: Uint32Array
    constructor(
      readonly room: number,
      readonly receivers: number,
    ) {
      this.got = new Uint32Array(config.window * 2 + 2)
    }
    delivered(seq: number) {
      const ring = this.got.length
      const slot = seq % ring
      this.got[slot] = (this.got[slot] as number) + 1
      if (this.got[slot] !== this.receivers || seq !== this.min + 1) return
      while (this.got[(this.min + 1) % ring] === this.receivers) {
        this.got[(this.min + 1) % ring] = 0
        this.min++
      }
      dirty.add(this)
      if (!flushScheduled) {
        flushScheduled = true
        setImmediate(flush)
      }
    }
  }

  // Progress is told once per turn, so the sender refills its window with one write.
  function flush() {
    flushScheduled = false
    for (const track of dirty) {
      const sender = senders.get(track.room)
      if (sender) sender.progress(config.worker, track.min)
      else send({ ev: 'progress', room: track.room, worker: config.worker, min: track.min })
    }
    dirty.clear()
  }

  // A read's frames all arrived by the time it is read: one clock reading per read.
  let arrivedUs = -1
  const arrival = () => {
    if (arrivedUs < 0) arrivedUs = nowUs() - config.epochUs
    return arrivedUs
  }

  function onFanout(conn: Conn, buf: Buffer, start: number, end: number) {
    if (!matches(buf, start, end, roomPrefix)) {
      // The pong that confirmed the join.
      if (matches(buf, start, end, pong)) conn.outstanding = false
      return
    }
    received++
    // The send time sits at the same offset in every message a connection gets from one
    // server (same sender, same shape): searched for once, then only checked.
    let tAt = start + conn.tOffset
    if (conn.tOffset < 0 || !matches(buf, tAt, end, T_KEY)) {
      tAt = buf.indexOf(T_KEY, start)
      conn.tOffset = tAt >= 0 && tAt < end ? tAt - start : -1
    }
    if (tAt >= 0 && tAt < end) {
      let t = 0
      for (let k = tAt + T_KEY.length, e = k + T_DIGITS; k < e; k++)
        t = t * 10 + (buf[k] as number) - 0x30
      record(arrival() - t)
    }
    conn.received++
    tracks.get(conn.index % config.rooms)?.delivered(conn.received)
  }

  async function setup(c: WorkerConfig) {
    config = c
    wire = c.target === 'socketio' ? socketIo : jsonFrames
    ping = wire.frame(JSON.stringify({ type: 'ping', id: 1, c: c.worker }))
    pong = wire.prefix('pong')
    roomPrefix = wire.prefix('room_message')
    const own: number[] = []
    for (let i = 0; i < c.connections; i++) if (ownerOf(i, c.processes) === c.worker) own.push(i)
    // A few at a time: a thousand connects at once would only measure the listen backlog.
    for (let b = 0; b < own.length; b += 50) {
      const batch = own.slice(b, b + 50)
      const sockets = await Promise.all(batch.map(() => wire.open(c.host, c.port)))
      for (const [j, socket] of sockets.entries()) {
        const conn: Conn = {
          index: batch[j] as number,
          socket,
          rest: undefined,
          sentAt: 0,
          outstanding: false,
          received: 0,
          tOffset: -1,
        }
        conns.push(conn)
        const control = (reply: Buffer) => socket.write(reply)
        const onPayload =
          c.mode === 'pingpong'
            ? (buf: Buffer, start: number, end: number) => onPingPong(conn, buf, start, end)
            : (buf: Buffer, start: number, end: number) => onFanout(conn, buf, start, end)
        socket.on('data', (chunk: Buffer) => {
          arrivedUs = -1
          conn.rest = wire.scan(conn.rest, chunk, onPayload, control)
        })
      }
    }
    if (c.mode === 'fanout') {
      const roomJson = (r: number) =>
        JSON.stringify({
          type: 'room_message',
          room: `bench-${r}`,
          data: { t: '0'.repeat(T_DIGITS) },
        })
      // Joined: a ping after the join, answered, proves the server has the join.
      for (const conn of conns) {
        conn.outstanding = true
        conn.socket.write(
          Buffer.concat([
            wire.frame(
              JSON.stringify({ type: 'join_room', room: `bench-${conn.index % c.rooms}` }),
            ),
            ping,
          ]),
        )
      }
      await until(() => conns.every((conn) => !conn.outstanding), 10_000, 'joins')
      for (let r = 0; r < c.rooms; r++) {
        const members: number[] = []
        for (let i = r; i < c.connections; i += c.rooms) members.push(i)
        const [first, ...receivers] = members
        if (first === undefined || receivers.length === 0) continue
        const local = receivers.filter((i) => ownerOf(i, c.processes) === c.worker).length
        if (local > 0) tracks.set(r, new RoomTrack(r, local))
        if (ownerOf(first, c.processes) === c.worker) {
          const reporting = [...new Set(receivers.map((i) => ownerOf(i, c.processes)))]
          const conn = conns.find((x) => x.index === first) as Conn
          senders.set(r, new RoomSender(r, conn, wire.frame(roomJson(r)), reporting))
        }
      }
    }
    send({ ev: 'ready' })
  }

  process.on('message', async (m: ToWorker) => {
    switch (m.cmd) {
      case 'setup':
        try {
          await setup(m.config)
        } catch (error) {
          send({
            ev: 'failed',
            message: (error as Error).message,
            code: (error as NodeJS.ErrnoException).code,
          } as FromWorker)
        }
        break
      case 'go':
        running = true
        if (config.mode === 'pingpong') {
          for (const conn of conns) {
            conn.outstanding = true
            conn.sentAt = performance.now()
            sent++
            conn.socket.write(ping)
          }
        } else for (const sender of senders.values()) sender.fill()
        break
      case 'measure':
        count = 0
        histogram.counts.fill(0)
        histogram.count = 0
        cpuAtStart = process.cpuUsage()
        measureStart = performance.now()
        measuring = true
        break
      case 'measured': {
        measuring = false
        const cpu = process.cpuUsage(cpuAtStart)
        send({
          ev: 'measured',
          count,
          seconds: (performance.now() - measureStart) / 1000,
          cpuSeconds: (cpu.user + cpu.system) / 1e6,
          histogram: histogram.sparse(),
        })
        break
      }
      case 'progress':
        senders.get(m.room)?.progress(m.worker, m.min)
        break
      case 'stop':
        running = false
        // What is still in flight arrives, so the totals can be checked against the server's.
        if (config.mode === 'pingpong')
          await until(() => conns.every((conn) => !conn.outstanding), 5_000, 'last pongs').catch(
            () => {},
          )
        else {
          // Done when nothing more has come for 300 ms.
          let seen = -1
          let quietSince = performance.now()
          await until(
            () => {
              if (received !== seen) {
                seen = received
                quietSince = performance.now()
              }
              return performance.now() - quietSince > 300
            },
            10_000,
            'quiet',
          ).catch(() => {})
        }
        send({ ev: 'totals', sent, received })
        for (const conn of conns) conn.socket.destroy()
        process.disconnect()
        break
    }
  })
}

async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
