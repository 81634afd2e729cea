import { type ChildProcess, fork } from 'node:child_process'
import { existsSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { BinaryClient, MessageClient, muxSession } from './clients.ts'
import { PACKAGE_ROOT, type Ports } from './server.ts'
import { sleep } from './util.ts'

/** What the well-behaved client saw during one window of time. */
export interface Progress {
  /** Round trips completed, per port. */
  roundTrips: Record<string, number>
  /** The longest single round trip (ms), over every port. */
  maxRoundTrip: number
  /** New connections that got their first byte from the server, and the longest wait for it. */
  newConnections: number
  maxConnectWait: number
  /** Round trips or new connections that failed (errors, closed connections). */
  failures: string[]
}

const OBSERVER_ADDRESS = '127.0.0.2'

/**
 * The well-behaved client that keeps being served while hostile clients do their worst: one
 * connection per port doing sequential round trips (ping/pong, heartbeat/pong, echo), plus a
 * fresh connection every half second that must be greeted. It connects from an address of its
 * own so the hostile clients' per-address throttling is not its concern.
 */
export class Observer {
  #running = true
  #window: Progress = emptyProgress()
  #loops: Promise<void>[] = []
  #inflight = new Map<string, number>()

  constructor(readonly ports: Ports) {}

  /** `mux`: also a mux session on the binary port with an echo stream (the demo has one). */
  start(options: { mux?: boolean } = {}): void {
    const { ports } = this
    if (ports.message) this.#loops.push(this.#messageLoop(ports.message))
    if (ports.binary) this.#loops.push(this.#binaryLoop(ports.binary))
    if (ports.binary && options.mux) this.#loops.push(this.#muxLoop(ports.binary))
    if (ports.echo) this.#loops.push(this.#echoLoop(ports.echo))
    const probe = ports.message ?? ports.echo
    if (probe) this.#loops.push(this.#connectLoop(probe))
  }

  /** The progress since the last call, and a new window from now. */
  take(): Progress {
    const window = this.#window
    // A request still unanswered counts with its age so far: a stall at the end of a window is
    // not hidden by the fact that nothing finished in it.
    const now = Date.now()
    for (const since of this.#inflight.values())
      window.maxRoundTrip = Math.max(window.maxRoundTrip, now - since)
    this.#window = emptyProgress()
    return window
  }

  async stop(): Promise<void> {
    this.#running = false
    await Promise.all(this.#loops)
  }

  #begin(port: string): number {
    const now = Date.now()
    this.#inflight.set(port, now)
    return now
  }

  #roundTrip(port: string, ms: number): void {
    this.#inflight.delete(port)
    this.#window.roundTrips[port] = (this.#window.roundTrips[port] ?? 0) + 1
    this.#window.maxRoundTrip = Math.max(this.#window.maxRoundTrip, ms)
  }

  async #guard(name: string, loop: () => Promise<void>): Promise<void> {
    while (this.#running) {
      try {
        await loop()
      } catch (error) {
        this.#inflight.delete(name)
        this.#window.failures.push(`${name}: ${(error as Error).message}`)
        await sleep(200)
      }
    }
  }

  #messageLoop(port: number): Promise<void> {
    return this.#guard('message', async () => {
      const client = new MessageClient(await connectFrom(port), { keep: false })
      try {
        await client.nextOfType('welcome', 30_000)
        for (let n = 0; this.#running; n++) {
          const sent = this.#begin('message')
          const id = `observer-${n}`
          const pong = client.next(
            (m) => m.type === 'pong' && m.id === id,
            30_000,
            'the observer pong',
          )
          client.send({ type: 'ping', id })
          await pong
          this.#roundTrip('message', Date.now() - sent)
        }
      } finally {
        client.close()
      }
    })
  }

  #binaryLoop(port: number): Promise<void> {
    return this.#guard('binary', async () => {
      const client = new BinaryClient(await connectFrom(port))
      try {
        while (this.#running) {
          const sent = this.#begin('binary')
          await client.heartbeat(30_000)
          this.#roundTrip('binary', Date.now() - sent)
        }
      } finally {
        client.close()
      }
    })
  }

  #muxLoop(port: number): Promise<void> {
    return this.#guard('mux', async () => {
      const session = await muxSession(await connectFrom(port))
      try {
        const stream = session.open('echo')
        stream.on('error', () => {})
        let text = ''
        stream.setEncoding('latin1')
        stream.on('data', (chunk: string) => {
          text += chunk
        })
        for (let n = 0; this.#running; n++) {
          const sent = this.#begin('mux')
          const line = `observer ${n}\n`
          stream.write(line)
          const deadline = Date.now() + 30_000
          while (!text.includes(line)) {
            if (stream.destroyed)
              throw new Error(`mux stream closed: ${stream.resetError?.message ?? 'no error'}`)
            if (Date.now() > deadline) throw new Error('no mux echo in 30 s')
            await sleep(2)
          }
          text = ''
          this.#roundTrip('mux', Date.now() - sent)
        }
      } finally {
        session.destroy()
      }
    })
  }

  #echoLoop(port: number): Promise<void> {
    return this.#guard('echo', async () => {
      const socket = await connectFrom(port)
      try {
        let text = ''
        socket.setEncoding('latin1')
        socket.on('data', (chunk: string) => {
          text += chunk
        })
        for (let n = 0; this.#running; n++) {
          const sent = this.#begin('echo')
          const line = `observer ${n}\n`
          socket.write(line)
          const deadline = Date.now() + 30_000
          while (!text.includes(line)) {
            if (socket.destroyed) throw new Error('echo connection closed')
            if (Date.now() > deadline) throw new Error('no echo in 30 s')
            await sleep(2)
          }
          text = ''
          this.#roundTrip('echo', Date.now() - sent)
        }
      } finally {
        socket.destroy()
      }
    })
  }

  #connectLoop(port: number): Promise<void> {
    return this.#guard('connect', async () => {
      const sent = Date.now()
      const socket = await connectFrom(port, 30_000)
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no greeting in 30 s')), 30_000)
        socket.once('data', () => {
          clearTimeout(timer)
          resolve()
        })
        socket.once('close', () => {
          clearTimeout(timer)
          reject(new Error('closed before a greeting'))
        })
      }).finally(() => socket.destroy())
      this.#window.newConnections++
      this.#window.maxConnectWait = Math.max(this.#window.maxConnectWait, Date.now() - sent)
      await sleep(500)
    })
  }
}

function emptyProgress(): Progress {
  return { roundTrips: {}, maxRoundTrip: 0, newConnections: 0, maxConnectWait: 0, failures: [] }
}

function connectFrom(port: number, timeout = 30_000): Promise<import('node:net').Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: OBSERVER_ADDRESS })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`connect timed out after ${timeout} ms`))
    }, timeout)
    socket.once('connect', () => {
      clearTimeout(timer)
      resolve(socket)
    })
    socket.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
  })
}

/** The observer's interface as the scenarios use it, in this process or another. */
export interface ObserverHandle {
  /** Where it runs: `'own process'` or `'suite process'` (no built observer to fork). */
  readonly where: string
  take(): Promise<Progress>
  stop(): Promise<void>
}

const OBSERVER_ENTRY = join(PACKAGE_ROOT, 'dist', 'observer-process.js')

/**
 * Starts the observer in a process of its own (the built `observer-process.js`), or in this
 * process when the package has not been built.
 */
export async function startObserver(
  ports: Ports,
  options: { mux?: boolean } = {},
): Promise<ObserverHandle> {
  if (!existsSync(OBSERVER_ENTRY)) {
    const local = new Observer(ports)
    local.start(options)
    return { where: 'suite process', take: async () => local.take(), stop: () => local.stop() }
  }
  const child: ChildProcess = fork(
    OBSERVER_ENTRY,
    [JSON.stringify({ ports, mux: options.mux === true })],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  )
  let nextId = 0
  const pending = new Map<number, (value: unknown) => void>()
  child.on('message', (message: { type: string; id?: number; progress?: Progress }) => {
    if (message.id !== undefined) {
      pending.get(message.id)?.(message.progress)
      pending.delete(message.id)
    }
  })
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve())
    child.once('exit', (code) => reject(new Error(`the observer process exited with ${code}`)))
  })
  const request = (type: string) =>
    new Promise<unknown>((resolve, reject) => {
      const id = ++nextId
      pending.set(id, resolve)
      child.send({ type, id })
      setTimeout(
        () => reject(new Error(`the observer process did not answer ${type}`)),
        60_000,
      ).unref()
    })
  return {
    where: 'own process',
    take: async () => (await request('take')) as Progress,
    stop: async () => {
      await request('stop').catch(() => child.kill('SIGKILL'))
    },
  }
}
