import { refuse, type TransferError, WireCode } from './errors.ts'
import type { FileReceiver } from './receiver.ts'
import type { Transfer } from './transfer.ts'
import type { CompletedTransfer, StartRequest, StartResult } from './types.ts'

const SHA256 = /^[0-9a-f]{64}$/

/**
 * One connection's view of a `FileReceiver`: its quotas (bytes declared, transfers open) and its
 * backpressure (`queued` bytes accepted but not yet written). Protocol adapters make one per
 * socket and call `close()` when the socket closes.
 */
export class ReceiverConnection {
  readonly receiver: FileReceiver
  /** Bytes accepted and not yet written. Adapters stop reading above `maxQueuedBytes`. */
  queued = 0
  /** Bytes declared by transfers started or resumed on this connection. */
  declared = 0
  readonly #open = new Set<Transfer>()
  #onDrained: (() => void) | undefined
  /**
   * Set by the protocol adapter: a transfer of this connection was released for idleness
   * (`timeout`, partial kept). The adapter tells the peer; its later chunks are `not_found`.
   */
  onTimeout: ((transferId: string, error: TransferError) => void) | undefined

  constructor(receiver: FileReceiver) {
    this.receiver = receiver
  }

  /** Transfers this connection is writing. */
  get openTransfers(): number {
    return this.#open.size
  }

  start(request: StartRequest): Promise<StartResult> {
    return this.receiver.start(this, request)
  }

  /**
   * Accepts a chunk at `offset`, as one buffer or as the pieces it arrived in, in order (a coded
   * `TransferError` is thrown at once if it cannot be: unknown transfer, wrong offset, too large,
   * bad CRC-32). The promise resolves to the bytes on disk after this chunk's write callback.
   * The buffers must not be reused until then.
   */
  write(
    id: string,
    offset: number,
    data: Uint8Array | readonly Uint8Array[],
    crc?: number,
  ): Promise<number> {
    return this.receiver.write(this, id, offset, data, crc)
  }

  end(id: string, sha256?: string): Promise<CompletedTransfer> {
    if (sha256 !== undefined && !SHA256.test(sha256)) {
      return Promise.reject(
        refuse(WireCode.BAD_REQUEST, 'sha256 must be 64 lowercase hex characters', {
          transferId: id,
          recoverable: true,
        }),
      )
    }
    return this.receiver.end(this, id, sha256)
  }

  cancel(id: string): Promise<void> {
    return this.receiver.cancel(this, id)
  }

  /** The connection is gone: its transfers are kept on disk for resume and unlocked. */
  close(): Promise<void> {
    return this.receiver.detachAll(this)
  }

  /** True when the adapter should stop reading until `onDrained` fires. */
  get congested(): boolean {
    return this.queued >= this.receiver.options.maxQueuedBytes
  }

  /** Called once when `queued` falls below the limit again. */
  whenDrained(callback: () => void): void {
    this.#onDrained = callback
  }

  /** @internal */
  drained(): void {
    if (this.#onDrained && !this.congested) {
      const callback = this.#onDrained
      this.#onDrained = undefined
      callback()
    }
  }

  /** @internal */
  timedOut(transferId: string, error: TransferError): void {
    this.onTimeout?.(transferId, error)
  }

  /** @internal */
  checkQuota(bytes: number): void {
    const { maxConcurrentTransfers, maxConnectionBytes } = this.receiver.options
    if (this.#open.size >= maxConcurrentTransfers) {
      throw refuse(
        WireCode.QUOTA,
        `over the limit of ${maxConcurrentTransfers} transfers at once`,
        { limit: maxConcurrentTransfers },
      )
    }
    if (this.declared + bytes > maxConnectionBytes) {
      throw refuse(WireCode.QUOTA, `over the connection's quota of ${maxConnectionBytes} bytes`, {
        limit: maxConnectionBytes,
      })
    }
  }

  /** @internal */
  adopt(t: Transfer): void {
    this.#open.add(t)
    this.declared += t.meta.size - t.received
  }

  /** @internal */
  forget(t: Transfer): void {
    this.#open.delete(t)
  }
}
