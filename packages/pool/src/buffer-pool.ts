import { VerbTcpError } from '@verb-tcp/core'
import { bool, knownKeys, positiveInt } from '@verb-tcp/core/validate'
import { DEFAULT_BUFFER_SIZE, DEFAULT_MAX_POOLED_BUFFERS } from './constants.ts'
import { PoolErrorCode } from './errors.ts'
import type { BufferPoolCounters, BufferPoolOptions } from './types.ts'

const OPTIONS = ['bufferSize', 'maxPooled', 'zeroOnReturn']

/**
 * The verb docs' `OptimizedBufferManager`: fixed-size buffers, reused. Bounded (at most `maxPooled`
 * wait in the pool), zeroed on return by default so one user's bytes never reach the next, and
 * strict about what comes back: only whole buffers of `bufferSize` bytes, each once.
 *
 * Measure before using it: for the verb docs' use (one 64 KiB buffer per connection) it is not
 * faster than `Buffer.alloc`; see the README's benchmark.
 */
export class BufferPool {
  readonly bufferSize: number
  readonly maxPooled: number
  readonly zeroOnReturn: boolean
  /** A stack: the most recently returned buffer, likeliest still in the CPU cache, goes first. */
  readonly #free: Buffer[] = []
  /** Backing stores of the pooled buffers, so a second view of a pooled buffer is caught too. */
  readonly #pooled = new Set<ArrayBufferLike>()
  readonly #counters = { created: 0, reused: 0, dropped: 0 }

  constructor(options: BufferPoolOptions = {}) {
    knownKeys(options, OPTIONS, 'BufferPool')
    this.bufferSize = positiveInt(options.bufferSize, 'bufferSize', DEFAULT_BUFFER_SIZE)
    this.maxPooled = positiveInt(options.maxPooled, 'maxPooled', DEFAULT_MAX_POOLED_BUFFERS)
    this.zeroOnReturn = bool(options.zeroOnReturn, 'zeroOnReturn', true)
  }

  get counters(): BufferPoolCounters {
    return { pooled: this.#free.length, ...this.#counters }
  }

  /**
   * A buffer of `bufferSize` bytes: a pooled one if any, else a new one (zero-filled when
   * `zeroOnReturn`, so fresh and reused buffers look the same; uninitialized otherwise).
   */
  getBuffer(): Buffer {
    const buffer = this.#free.pop()
    if (buffer) {
      this.#pooled.delete(buffer.buffer)
      this.#counters.reused++
      return buffer
    }
    this.#counters.created++
    return this.zeroOnReturn
      ? Buffer.alloc(this.bufferSize)
      : Buffer.allocUnsafeSlow(this.bufferSize)
  }

  /**
   * Gives `buffer` back; true if it was pooled, false if the pool was full and it was left to
   * the GC. Throws `ERR_FOREIGN_BUFFER` for a buffer that is not a whole `bufferSize`-byte
   * allocation (another size, or a view into a larger one, which would hand out memory that
   * something else still uses), and `ERR_BUFFER_RETURNED_TWICE` for one already in the pool.
   * Do not use a buffer after returning it.
   */
  returnBuffer(buffer: Uint8Array): boolean {
    if (
      buffer.byteLength !== this.bufferSize ||
      buffer.byteOffset !== 0 ||
      buffer.buffer.byteLength !== this.bufferSize
    ) {
      throw new VerbTcpError(
        PoolErrorCode.FOREIGN_BUFFER,
        `Only whole ${this.bufferSize}-byte buffers can be returned, got ${buffer.byteLength} bytes` +
          ` at offset ${buffer.byteOffset} of ${buffer.buffer.byteLength}`,
        { limit: this.bufferSize },
      )
    }
    if (this.#pooled.has(buffer.buffer)) {
      throw new VerbTcpError(
        PoolErrorCode.BUFFER_RETURNED_TWICE,
        'This buffer is already in the pool',
      )
    }
    if (this.#free.length >= this.maxPooled) {
      this.#counters.dropped++
      return false
    }
    if (this.zeroOnReturn) buffer.fill(0)
    const pooled = Buffer.isBuffer(buffer)
      ? buffer
      : Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength)
    this.#free.push(pooled)
    this.#pooled.add(buffer.buffer)
    return true
  }

  /** Drops every pooled buffer. */
  clear(): void {
    this.#free.length = 0
    this.#pooled.clear()
  }
}
