import { Transform } from 'node:stream'
import { ProtocolError } from '../errors.ts'
import type { BinaryInput, DecodeSink, SyncDecoder } from './decoder.ts'
import { CodecErrorCode } from './errors.ts'

/** What every adapter does with errors a stream can survive (`recoverable: true`). */
export interface RecoverableErrorOption {
  /**
   * Called for each recoverable error, after which decoding goes on. Without it a recoverable
   * error ends the stream like a fatal one: skipping bad input should be a decision, not a default.
   */
  onRecoverableError?: (error: ProtocolError) => void
}

export interface DecoderTransformOptions extends RecoverableErrorOption {
  /**
   * Frames buffered on the readable side before the writable side stops taking chunks. Counted in
   * frames, so with large frames keep it small. @default 16
   */
  readableHighWaterMark?: number
}

/**
 * A Node `Transform` around a decoder: bytes in, one object per frame out. Errors go through the
 * transform callback (the stream is destroyed with them); a partial frame at the end is
 * `ERR_TRUNCATED_FRAME`. A frame that is `null` (JSON `null`, say) cannot travel through a Node
 * object stream, where `null` means end: it is reported as a recoverable `ERR_NULL_FRAME`.
 */
export function createDecoderTransform<T>(
  decoder: SyncDecoder<T>,
  options: DecoderTransformOptions = {},
): Transform {
  const { onRecoverableError, readableHighWaterMark = 16 } = options
  let failure: ProtocolError | undefined
  let stream: Transform | undefined
  const sink: DecodeSink<T> = {
    frame(value) {
      if (failure !== undefined) return
      if (value === null) {
        sink.error(
          new ProtocolError(
            CodecErrorCode.NULL_FRAME,
            'a null frame cannot pass through a Node object stream',
            {
              recoverable: true,
            },
          ),
        )
        return
      }
      stream?.push(value)
    },
    error(error) {
      if (error.recoverable && onRecoverableError !== undefined) onRecoverableError(error)
      else failure ??= error
    },
  }
  stream = new Transform({
    readableObjectMode: true,
    readableHighWaterMark,
    transform(chunk: BinaryInput, _encoding, callback) {
      try {
        decoder.push(chunk, sink)
      } catch (error) {
        callback(error as Error)
        return
      }
      // The callback fires after this chunk's frames are pushed; Node holds the next write back
      // while the readable side is over its high-water mark.
      callback(failure)
    },
    flush(callback) {
      if (failure === undefined) decoder.end(sink)
      callback(failure)
    },
  })
  return stream
}
