import type { TCPSocket } from '@verb-tcp/core'
import { sharedTurnBudget, type TurnBudget } from '@verb-tcp/core/codec'

/** Bytes written or read that cost one unit of the turn's budget (about what a frame costs). */
export const BYTES_PER_UNIT = 64

/**
 * The demo's share of the per-turn work budget that every decoder in the process already
 * shares (core's `sharedTurnBudget`): the message and binary ports' codecs charge each frame
 * to it and, once a turn's budget is spent, stop mid-chunk and wait in its line. Here the work
 * that is not decoding is charged to the same budget, so one rule bounds a turn:
 *
 * - fan-out (`charge`): a broadcast read once is a write to every client;
 * - setting up a connection, opening a mux stream: `charge`, and `exhausted`/`later` to put it
 *   off to a later turn;
 * - the echo port's reads (`add`), which no codec sees: past the budget, that socket stops
 *   reading and waits in the same line as the codecs.
 *
 * Each of these costs a counter and a comparison; nothing here walks every connection.
 */
export class ReadScheduler {
  readonly #budget: TurnBudget

  constructor(budget: TurnBudget = sharedTurnBudget) {
    this.#budget = budget
  }

  /**
   * Puts a connection whose bytes no codec sees (echo, a mux session) under the budget, for its
   * whole life. Each chunk is charged before the socket's other `'data'` listeners see it, or,
   * with `after`, once they have: a mux session's stream open must not be refused for the
   * bytes of the very chunk that carries it.
   */
  add(socket: TCPSocket, after = false): void {
    const waiter = {
      run: () => {
        if (socket.destroyed) return 16
        // Its writes wait for the peer too: reading resumes once they drain. The echo handler
        // would resume it then anyway, but a mux session does not pause reads for its writes, so
        // without this a session paused here while its socket was full stayed paused for good.
        if (socket.writableNeedDrain)
          socket.once('drain', () => socket.destroyed || socket.resume())
        else socket.resume()
        return 16
      },
    }
    const onData = (chunk: Buffer) => {
      this.charge(chunk.length)
      if (this.#budget.exhausted) {
        socket.pause()
        this.#budget.wait(waiter)
      }
    }
    if (after) socket.on('data', onData)
    else socket.prependListener('data', onData)
  }

  /** Counts work that is not decoding, in bytes written (or read, for echo). */
  charge(bytes: number): void {
    this.#budget.charge(Math.ceil(bytes / BYTES_PER_UNIT))
  }

  /** True once this turn's budget is used: work that can wait should wait for `later`. */
  get exhausted(): boolean {
    return this.#budget.exhausted
  }

  /**
   * Runs `fn` at a later turn, before the connections waiting for their next batch: work held
   * back once (a greeting, a backlog) goes first, as much as the budget allows.
   */
  later(fn: () => void): void {
    this.#budget.wait({ run: fn }, true)
  }
}
