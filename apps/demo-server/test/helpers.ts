import { once } from 'node:events'
import { type AddressInfo, Socket, type SocketConstructorOpts } from 'node:net'
import type { TcpServer } from '@verb-tcp/core'
import { type Logger, pino } from 'pino'
import { afterEach } from 'vitest'
import { createDemoServer } from '../src/echo.ts'

const cleanups: (() => unknown)[] = []

/** Runs `fn` after the current test, last registered first. */
export function defer(fn: () => unknown): void {
  cleanups.push(fn)
}

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

export interface LogLine {
  level: number
  msg: string
  [key: string]: unknown
}

/** A pino logger at debug level that keeps its lines, parsed, in `lines`. */
export function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = []
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) })
  return { logger, lines }
}

/** A demo server listening on a free loopback port, closed (at once) after the test. */
export async function startDemoServer(
  logger: Logger = pino({ level: 'silent' }),
): Promise<{ app: TcpServer; port: number }> {
  const app = createDemoServer({ logger })
  defer(() => app.close({ gracePeriod: 0 }))
  const { port } = (await app.listen(0, '127.0.0.1')) as AddressInfo
  return { app, port }
}

/**
 * A client socket that records every byte it receives. `bytes(n)` waits until at least `n` bytes
 * have arrived (failing if the connection ends first) and returns them all.
 */
export class Client {
  readonly socket: Socket
  #chunks: Buffer[] = []
  #length = 0
  #ended = false
  #waiters: (() => void)[] = []

  constructor(options?: SocketConstructorOpts & { allowHalfOpen?: boolean }) {
    this.socket = new Socket(options)
    this.socket.on('error', () => {}) // a reset after the test's server closed is not a failure
    this.socket.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk)
      this.#length += chunk.length
      this.#wake()
    })
    this.socket.on('close', () => {
      this.#ended = true
      this.#wake()
    })
    defer(() => this.socket.destroy())
  }

  static async connect(
    port: number,
    options?: SocketConstructorOpts & { allowHalfOpen?: boolean },
  ): Promise<Client> {
    const client = new Client(options)
    client.socket.setNoDelay(true)
    client.socket.connect(port, '127.0.0.1')
    await once(client.socket, 'connect')
    return client
  }

  get received(): Buffer {
    return Buffer.concat(this.#chunks, this.#length)
  }

  async bytes(n: number): Promise<Buffer> {
    while (this.#length < n) {
      if (this.#ended) {
        throw new Error(`connection closed after ${this.#length} of ${n} expected bytes`)
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve))
    }
    return this.received
  }

  /** Waits until the connection has closed and returns every byte received. */
  async untilClosed(): Promise<Buffer> {
    while (!this.#ended) await new Promise<void>((resolve) => this.#waiters.push(resolve))
    return this.received
  }

  #wake(): void {
    for (const resolve of this.#waiters.splice(0)) resolve()
  }
}
