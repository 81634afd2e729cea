import type { Connection } from './connections.ts'

/**
 * The commands `settled()` waits for, per connection. When a connection closes, ioredis keeps
 * the commands it had written to resend them after a reconnect, and their promises stay pending
 * until then (forever if Redis does not come back): they are forgotten here instead, so that
 * nothing waits on a Redis that is gone.
 */
export class InFlight {
  readonly #byConnection = new Map<Connection, Set<Promise<unknown>>>()
  /** Wakes the `settled()` calls waiting right now when a connection closes. */
  readonly #wakeOnClose = new Set<() => void>()

  /** Keeps `settled()` waiting for `operation`; returns it. */
  track<T>(connection: Connection, operation: Promise<T>): Promise<T> {
    let operations = this.#byConnection.get(connection)
    if (operations === undefined) {
      operations = new Set()
      this.#byConnection.set(connection, operations)
    }
    const tracked = operations
    tracked.add(operation)
    const forget = () => tracked.delete(operation)
    operation.then(forget, forget)
    return operation
  }

  /** The connection closed: what it had in flight may never be answered. */
  forget(connection: Connection): void {
    this.#byConnection.delete(connection)
    for (const wake of this.#wakeOnClose) wake()
  }

  /**
   * Resolves when every operation tracked so far (and those tracked while waiting, up to a
   * bound) is answered or its connection closed. Never rejects.
   */
  async settled(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const pending = [...this.#byConnection.values()].flatMap((operations) => [...operations])
      if (pending.length === 0) return
      let wake = () => {}
      const closed = new Promise<void>((resolve) => {
        wake = resolve
      })
      this.#wakeOnClose.add(wake)
      await Promise.race([Promise.allSettled(pending), closed])
      this.#wakeOnClose.delete(wake)
    }
  }
}
