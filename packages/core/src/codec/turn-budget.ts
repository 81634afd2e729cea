import { positiveInt } from '../validate.ts'

/**
 * Work units every source sharing a budget may cause in one event-loop turn.
 *
 * A turn's length is also how long the listen queue waits: libuv accepts one connection per
 * event-loop turn (Node 20's libuv; Node 18's accepted in a loop), so under a flood that spends
 * the budget every turn, a new connection waits one turn for each connection queued before it,
 * up to the listen backlog (511). At 4096 units a turn took about 10 ms under a ping flood, and
 * a connection queued behind 2,000 flooding clients' connects waited 5 s for its accept; at
 * 1024, about 1 s, with the same throughput in the demo server's 100-connection benchmark.
 */
export const DEFAULT_UNITS_PER_TURN = 1024

/**
 * A source waiting for its turn. `run` starts one batch of its work, now or soon after (on the
 * same turn), and returns the most units that batch may use, so that the turn does not start
 * more batches than its budget can pay for.
 */
export interface TurnWaiter {
  run(): unknown
}

/**
 * A budget of work per event-loop turn, shared by many sources (every attached decoder of a
 * process, by default), and the line they wait in once it is spent.
 *
 * libuv hands over every ready socket in one turn, each up to 32 reads of 64 KiB, and a
 * decoder delivers a frame per few bytes. Left alone, two hundred clients flooding eight-byte
 * frames make one turn of millions of frames: timers, accepts and every other client wait for
 * all of it. With a budget, work is charged in units (a frame is one, a KiB of input another),
 * and once the turn's units are spent a source stops where it is and takes its place in line.
 * At the next turn the line is served first, in order, one batch each, while the fresh budget
 * lasts; whoever is left waits for the turn after. Sources that are not flooding never meet the
 * budget and pay one addition per frame.
 */
export class TurnBudget {
  readonly limit: number
  /** Units charged since the turn began. */
  used = 0
  #scheduled = false
  /** Work put off to a later turn that goes before the connections waiting in `#line`. */
  #first: TurnWaiter[] = []
  #line: TurnWaiter[] = []
  #head = 0

  constructor(limit: number = DEFAULT_UNITS_PER_TURN) {
    this.limit = positiveInt(limit, 'limit', DEFAULT_UNITS_PER_TURN)
  }

  /** True once this turn's units are spent: work that can wait should `wait`. */
  get exhausted(): boolean {
    return this.used >= this.limit
  }

  /** Sources waiting in line. */
  get waiting(): number {
    return this.#first.length + this.#line.length - this.#head
  }

  /** Counts work done in this turn. */
  charge(units: number): void {
    this.used += units
    if (!this.#scheduled) this.#schedule()
  }

  /**
   * Puts `waiter` at the back of the line: its `run` is called at a later turn. With `first`, it
   * goes before every connection waiting for its next batch (behind other `first` work): for
   * work that was put off once and is small, such as greeting a new connection or a request
   * from a connection that is not flooding, which should not wait for a whole round of a
   * flood's batches. The units `first` work promises count against the turn's budget too.
   */
  wait(waiter: TurnWaiter, first = false): void {
    if (first) this.#first.push(waiter)
    else this.#line.push(waiter)
    if (!this.#scheduled) this.#schedule()
  }

  #schedule(): void {
    this.#scheduled = true
    setImmediate(this.#turn)
  }

  readonly #turn = (): void => {
    this.#scheduled = false
    this.used = 0
    let promised = 0
    if (this.#first.length > 0) {
      // Work put off again while this runs waits for the next turn, behind what is left here.
      const first = this.#first
      this.#first = []
      let i = 0
      while (i < first.length && this.used + promised < this.limit) {
        promised += units((first[i++] as TurnWaiter).run())
      }
      if (i < first.length) this.#first = [...first.slice(i), ...this.#first]
    }
    const line = this.#line
    // A waiter that runs out of budget again goes to the back, behind everyone already waiting.
    while (this.#head < line.length && this.used + promised < this.limit) {
      const waiter = line[this.#head] as TurnWaiter
      line[this.#head++] = undefined as unknown as TurnWaiter
      promised += units(waiter.run())
    }
    if (this.#head === line.length) {
      line.length = 0
      this.#head = 0
    } else if (this.#head > 1024 && this.#head * 2 > line.length) {
      this.#line = line.slice(this.#head)
      this.#head = 0
    }
    if (this.waiting > 0 && !this.#scheduled) this.#schedule()
  }
}

const units = (promise: unknown): number => (typeof promise === 'number' ? promise : 0)

/** The budget every `attachDecoder` shares unless it is given one: one per process. */
export const sharedTurnBudget: TurnBudget = new TurnBudget()
