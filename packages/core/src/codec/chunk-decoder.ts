import type { ProtocolError } from '../errors.ts'
import { type BinaryInput, type DecodeSink, type SyncDecoder, toBuffer } from './decoder.ts'

/**
 * The bookkeeping every length-prefixed frame decoder shares, around the part that differs
 * (`decodeChunk`): input as a Buffer view, the stream offset, the end of input reported as a
 * truncation, and a decoder that stays finished after a fatal error, after `end()`, or after a
 * sink threw (the rest of that chunk was never looked at, so the stream cannot go on).
 */
export abstract class ChunkDecoder<T> implements SyncDecoder<T> {
  #position = 0
  #finished = false

  /** Total bytes pushed so far: the stream offset of the next byte. */
  get position(): number {
    return this.#position
  }

  /** True once the decoder ignores input: after a fatal error or `end()`. */
  get finished(): boolean {
    return this.#finished
  }

  push(input: BinaryInput, sink: DecodeSink<T>): number {
    const chunk = toBuffer(input)
    if (this.#finished) return chunk.length
    // biome-ignore lint/suspicious/noConfusingVoidType: what decodeChunk returns
    let used: number | void
    try {
      used = this.decodeChunk(chunk, this.#position, sink)
    } catch (error) {
      // Only the sink can throw here; the rest of this chunk is unread, so the stream is over.
      this.finish()
      throw error
    } finally {
      this.afterChunk()
    }
    if (used === undefined || this.#finished) used = chunk.length
    this.#position += used
    return used
  }

  end(sink: DecodeSink<T>): void {
    if (this.#finished) return
    const error = this.truncation(this.#position)
    this.finish()
    if (error !== undefined) sink.error(error)
  }

  /**
   * Decodes one chunk, whose first byte is at stream offset `position`. Returns where it stopped
   * when the sink returned `false` (the end of that frame, a frame boundary); nothing or
   * `chunk.length` when it used the whole chunk.
   */
  protected abstract decodeChunk(
    chunk: Buffer,
    position: number,
    sink: DecodeSink<T>,
    // biome-ignore lint/suspicious/noConfusingVoidType: subclasses that cannot stop return nothing
  ): number | void

  /**
   * Runs after every `decodeChunk`, also when a sink threw: the place to drop per-chunk state,
   * such as a decoded view of the chunk, so that nothing keeps the caller's chunk alive or
   * reuses it for the next one. Does nothing unless overridden.
   */
  protected afterChunk(): void {}

  /** The error for input ending at `offset` in the current state; undefined on a boundary. */
  protected abstract truncation(offset: number): ProtocolError | undefined

  /** Stops decoding for good. Subclasses release what they hold, then call this. */
  protected finish(): void {
    this.#finished = true
  }

  /** A fatal error: finish, then report it. */
  protected fail(sink: DecodeSink<T>, error: ProtocolError): void {
    this.finish()
    sink.error(error)
  }
}
