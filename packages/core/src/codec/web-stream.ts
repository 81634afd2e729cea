import type { ProtocolError } from '../errors.ts'
import type { BinaryInput, DecodeSink, SyncDecoder } from './decoder.ts'
import type { RecoverableErrorOption } from './transform.ts'

export interface DecoderStreamOptions<T> extends RecoverableErrorOption {
  /** Strategy of the writable (bytes) side. */
  writableStrategy?: QueuingStrategy<BinaryInput>
  /** Strategy of the readable side; the default counts frames, high-water mark 1. */
  readableStrategy?: QueuingStrategy<T>
}

/**
 * A Web `TransformStream` around a decoder: one chunk out per frame. Errors error both sides;
 * the end of input inside a frame is `ERR_TRUNCATED_FRAME`. Node's Web streams cost a promise or
 * more per chunk, so prefer `iterateFrames` or the Node `Transform` where speed matters.
 */
export function createDecoderStream<T>(
  decoder: SyncDecoder<T>,
  options: DecoderStreamOptions<T> = {},
): TransformStream<BinaryInput, T> {
  const { onRecoverableError } = options
  let controller: TransformStreamDefaultController<T> | undefined
  let failure: ProtocolError | undefined
  const sink: DecodeSink<T> = {
    frame(value) {
      if (failure === undefined) controller?.enqueue(value)
    },
    error(error) {
      if (error.recoverable && onRecoverableError !== undefined) onRecoverableError(error)
      else failure ??= error
    },
  }
  return new TransformStream<BinaryInput, T>(
    {
      start(c) {
        controller = c
      },
      transform(chunk) {
        decoder.push(chunk, sink)
        if (failure !== undefined) throw failure
      },
      flush() {
        decoder.end(sink)
        if (failure !== undefined) throw failure
      },
    },
    options.writableStrategy,
    options.readableStrategy,
  )
}
