import { EventEmitter } from 'node:events'

// biome-ignore lint/suspicious/noExplicitAny: mirrors @types/node's EventMap constraint
type Events<T> = Record<keyof T, any[]>

/**
 * An `EventEmitter` that emits no `'error'` event and whose listeners cannot break the emitter:
 * a listener that throws becomes a process warning (code `VERB_TCP_LISTENER_THREW`), and the
 * pool's bookkeeping around the emit goes on.
 */
export class SafeEmitter<T extends Events<T>> extends EventEmitter<T> {
  /** Emits `event` if anyone listens; never throws. */
  protected notify<K extends keyof T & string>(event: K, ...args: T[K]): void {
    if (this.listenerCount(event as never) === 0) return
    try {
      ;(this.emit as (event: string, ...args: unknown[]) => boolean)(event, ...args)
    } catch (thrown) {
      const error = thrown instanceof Error ? thrown : new Error(String(thrown))
      process.emitWarning(error, { code: 'VERB_TCP_LISTENER_THREW' })
    }
  }
}
