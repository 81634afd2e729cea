import { createHash } from 'node:crypto'
import type { Message, MessageClient } from './clients.ts'
import { waitFor } from './util.ts'

/**
 * One upload over the message port's docs-compatible path (`file_start`, base64 `file_chunk`s
 * with explicit offsets, `file_end`), keeping what the server acknowledged: `acked` is the
 * `receivedBytes` of the latest `file_chunk_ack`, the bytes the server has written.
 */
export class DocsUpload {
  acked = 0
  uploadId: string | undefined
  error: Message | undefined
  readonly sha256: string

  constructor(
    readonly transferId: string,
    readonly filename: string,
    readonly content: Buffer,
    readonly chunkSize = 64 * 1024,
  ) {
    this.sha256 = createHash('sha256').update(content).digest('hex')
  }

  #mine = (m: Message) => m.transferId === this.transferId

  /** `file_start` (a resume when `uploadId` is known); resolves with the offset to go on from. */
  async start(client: MessageClient, timeout = 15_000): Promise<number> {
    client.onMessage = (m) => {
      if (!this.#mine(m)) return
      if (m.type === 'file_chunk_ack' && typeof m.receivedBytes === 'number')
        this.acked = Math.max(this.acked, m.receivedBytes)
      else if (m.type === 'error') this.error ??= m
    }
    const reply = client.next(
      (m) => this.#mine(m) && (m.type === 'file_start_ack' || m.type === 'error'),
      timeout,
      `file_start_ack for ${this.transferId}`,
    )
    client.send({
      type: 'file_start',
      transferId: this.transferId,
      filename: this.filename,
      fileSize: this.content.length,
      chunkSize: this.chunkSize,
      ...(this.uploadId === undefined ? {} : { uploadId: this.uploadId }),
    })
    const ack = await reply
    if (ack.type === 'error') throw new Error(`file_start refused: ${ack.code} ${ack.message}`)
    if (typeof ack.uploadId === 'string') this.uploadId = ack.uploadId
    return typeof ack.offset === 'number' ? ack.offset : 0
  }

  /**
   * Sends chunks from `offset`, at most `window` unacknowledged, until `until` bytes are sent or
   * `stop()` says so; resolves when every chunk sent is acknowledged (or the connection ends).
   */
  async send(
    client: MessageClient,
    offset: number,
    {
      until = this.content.length,
      window = 8,
      stop = (): boolean => false,
    }: { until?: number; window?: number; stop?: () => boolean } = {},
  ): Promise<number> {
    let sent = offset
    while (sent < until && !stop() && !client.closed && this.error === undefined) {
      const end = Math.min(sent + this.chunkSize, until)
      client.send({
        type: 'file_chunk',
        transferId: this.transferId,
        chunkIndex: Math.floor(sent / this.chunkSize),
        offset: sent,
        data: this.content.subarray(sent, end).toString('base64'),
      })
      sent = end
      if (sent - this.acked >= window * this.chunkSize)
        await waitFor(
          () =>
            sent - this.acked < window * this.chunkSize ||
            client.closed ||
            this.error !== undefined,
          30_000,
          2,
        )
    }
    await waitFor(() => this.acked >= sent || client.closed || this.error !== undefined, 30_000, 5)
    return sent
  }

  /** `file_end`; resolves with `file_complete` (or throws with the error). */
  async end(client: MessageClient, timeout = 30_000): Promise<Message> {
    const reply = client.next(
      (m) => this.#mine(m) && (m.type === 'file_complete' || m.type === 'error'),
      timeout,
      `file_complete for ${this.transferId}`,
    )
    client.send({ type: 'file_end', transferId: this.transferId })
    const done = await reply
    if (done.type === 'error') throw new Error(`file_end refused: ${done.code} ${done.message}`)
    return done
  }
}
