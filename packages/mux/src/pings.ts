import { performance } from 'node:perf_hooks'

interface PendingPing {
  resolve: (rtt: number) => void
  reject: (error: Error) => void
  sent: number
  timer: NodeJS.Timeout
}

/** Pings in flight, by id, each with its timeout; and the smoothed RTT their pongs give. */
export class Pings {
  /** Smoothed RTT in ms; 0 until the first pong. */
  rtt = 0
  readonly #pending = new Map<number, PendingPing>()
  #nextId = 1
  readonly #timeout: number
  readonly #onTimeout: () => void

  /** @param onTimeout runs when a ping waits `timeout` ms for its pong (the session fails) */
  constructor(timeout: number, onTimeout: () => void) {
    this.#timeout = timeout
    this.#onTimeout = onTimeout
  }

  get size(): number {
    return this.#pending.size
  }

  /** Registers a new ping; `send` is given its id. Resolves with the round trip in ms. */
  start(send: (id: number) => void): Promise<number> {
    const id = this.#nextId
    this.#nextId = id === 0xffff_ffff ? 1 : id + 1
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(this.#onTimeout, this.#timeout)
      timer.unref?.()
      this.#pending.set(id, { resolve, reject, sent: performance.now(), timer })
      send(id)
    })
  }

  /** A pong: resolves its ping and feeds the smoothed RTT. Unknown ids are ignored. */
  pong(id: number): void {
    const p = this.#pending.get(id)
    if (p === undefined) return
    this.#pending.delete(id)
    clearTimeout(p.timer)
    const rtt = performance.now() - p.sent
    this.rtt = this.rtt === 0 ? rtt : this.rtt * 0.875 + rtt * 0.125
    p.resolve(rtt)
  }

  /** Every ping in flight fails with `error`. */
  failAll(error: Error): void {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer)
      p.reject(error)
    }
    this.#pending.clear()
  }
}
