import { connect, type Socket } from 'node:net'

/** Why `Peer.until` stopped without a value. */
export type WaitEnd = 'closed' | 'timeout'

/**
 * One connection to the server under test, from the client's side: bytes written as given
 * (whole, or cut at chosen points with a pause between the pieces so they arrive as separate
 * reads), everything received kept until a parser consumes it.
 */
export class Peer {
  readonly socket: Socket
  /** Received and not yet consumed. */
  #data: Buffer = Buffer.alloc(0)
  #closed = false
  #readEnded = false
  #waiters = new Set<() => void>()
  /** True when the server reset the connection (unread bytes of ours made its close a RST). */
  reset = false
  /** Every byte received so far. */
  received = 0

  constructor(socket: Socket) {
    this.socket = socket
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length
      this.#data = this.#data.length === 0 ? chunk : Buffer.concat([this.#data, chunk])
      this.#wake()
    })
    socket.on('end', () => {
      this.#readEnded = true
      this.#wake()
    })
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET') this.reset = true
    })
    socket.on('close', () => {
      this.#closed = true
      this.#readEnded = true
      this.#wake()
    })
  }

  static open(host: string, port: number, timeout: number): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port })
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new Error(`could not connect to ${host}:${port} within ${timeout} ms`))
      }, timeout)
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.off('error', onError)
        resolve(new Peer(socket))
      })
      const onError = (error: Error) => {
        clearTimeout(timer)
        reject(new Error(`could not connect to ${host}:${port}: ${error.message}`))
      }
      socket.once('error', onError)
    })
  }

  /** True once the server ended its side (or the connection closed). */
  get ended(): boolean {
    return this.#readEnded
  }

  get closed(): boolean {
    return this.#closed
  }

  /** The unconsumed bytes. */
  get data(): Buffer {
    return this.#data
  }

  /** Drops the first `n` unconsumed bytes. */
  consume(n: number): void {
    this.#data = this.#data.subarray(n)
  }

  /** Writes bytes; resolves once they are handed to the kernel (or the socket is gone). */
  write(bytes: Uint8Array | string): Promise<void> {
    if (this.socket.destroyed || this.socket.writableEnded) return Promise.resolve()
    return new Promise((resolve) => {
      this.socket.write(bytes, () => resolve())
    })
  }

  /**
   * Writes `bytes` cut at each offset of `cuts`, pausing `gapMs` between pieces so that each
   * piece reaches the server as a read of its own (Nagle is off).
   */
  async writeSplit(bytes: Uint8Array, cuts: readonly number[], gapMs = 3): Promise<void> {
    let at = 0
    for (const cut of [...cuts, bytes.length]) {
      if (cut <= at) continue
      await this.write(bytes.subarray(at, cut))
      at = cut
      if (at < bytes.length) await sleep(gapMs)
    }
  }

  /** Half-closes our side. */
  end(): void {
    if (!this.socket.destroyed) this.socket.end()
  }

  destroy(): void {
    this.socket.destroy()
  }

  /**
   * Calls `check` now and whenever bytes arrive or the connection ends, until it returns a
   * value (resolved), or the connection ended with nothing found, or `ms` passed: then resolves
   * with `{ end }` saying which.
   */
  until<T>(check: () => T | undefined, ms: number): Promise<{ value: T } | { end: WaitEnd }> {
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        this.#waiters.delete(poll)
        clearTimeout(timer)
      }
      const poll = () => {
        let value: T | undefined
        try {
          value = check()
        } catch (error) {
          // A parser that found garbage in the server's bytes: the case's failure.
          cleanup()
          reject(error)
          return
        }
        if (value !== undefined) {
          cleanup()
          resolve({ value })
        } else if (this.#readEnded) {
          cleanup()
          resolve({ end: 'closed' })
        }
      }
      const timer = setTimeout(() => {
        cleanup()
        resolve({ end: 'timeout' })
      }, ms)
      this.#waiters.add(poll)
      poll()
    })
  }

  /** Resolves true when the server ends or closes the connection within `ms`. */
  async waitEnd(ms: number): Promise<boolean> {
    const r = await this.until(() => undefined, ms)
    return 'end' in r && r.end === 'closed'
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter()
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Writes `chunk` over and over, reading nothing, until the server takes no more (our socket
 * queue did not move for a whole second: its receive window and ours are full) or `bound`
 * bytes were taken. A server that is merely slow still makes progress and is not mistaken for
 * one that stopped reading. Returns the bytes the server took.
 */
export async function fillSendWindow(
  c: { peer: Peer },
  chunk: Uint8Array,
  bound: number,
): Promise<number> {
  const socket = c.peer.socket
  let written = 0
  const taken = () => written - socket.writableLength
  while (taken() < bound && !c.peer.ended && !socket.destroyed) {
    written += chunk.length
    if (socket.write(chunk)) continue
    for (;;) {
      const before = socket.writableLength
      const drained = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          socket.off('drain', onDrain)
          resolve(false)
        }, 1000)
        const onDrain = () => {
          clearTimeout(timer)
          resolve(true)
        }
        socket.once('drain', onDrain)
      })
      if (drained) break
      if (socket.writableLength === before || c.peer.ended || socket.destroyed) return taken()
    }
  }
  return taken()
}
