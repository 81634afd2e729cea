// Thin wrappers over core's adapters, with a `BinaryFrameDecoder` built from the options. The
// adapters themselves live in @verb-tcp/core, written once for every codec.
import type { Duplex, Readable, Transform } from 'node:stream'
import {
  type AttachedDecoder,
  type AttachHandlers,
  type AttachOptions,
  attachDecoder,
  type BinaryInput,
  type ByteSource,
  createDecoderStream,
  createDecoderTransform,
  type DecoderStreamOptions,
  type DecoderTransformOptions,
  type IterateOptions,
  iterateFrames,
} from '@verb-tcp/core/codec'
import { BinaryFrameDecoder } from './frame-decoder.ts'
import type { BinaryFrame, FrameDecoderOptions } from './types.ts'

/**
 * `for await` over the frames of a socket, `Readable` or (async) iterable of chunks: core's
 * `iterateFrames` with a `BinaryFrameDecoder`. With `batch: true`, one array per input chunk.
 */
export function iterateBinaryFrames(
  source: ByteSource,
  options: FrameDecoderOptions & IterateOptions & { batch: true },
): AsyncGenerator<BinaryFrame[], void, undefined>
export function iterateBinaryFrames(
  source: ByteSource,
  options?: FrameDecoderOptions & IterateOptions & { batch?: false },
): AsyncGenerator<BinaryFrame, void, undefined>
export function iterateBinaryFrames(
  source: ByteSource,
  options: FrameDecoderOptions & IterateOptions = {},
): AsyncGenerator<BinaryFrame | BinaryFrame[], void, undefined> {
  const decoder = new BinaryFrameDecoder(options)
  return options.batch === true
    ? iterateFrames(source, decoder, { ...options, batch: true })
    : iterateFrames(source, decoder, { ...options, batch: false })
}

/** A Node `Transform`, bytes in, one `BinaryFrame` object out per frame: core's `createDecoderTransform`. */
export function createBinaryFrameTransform(
  options: FrameDecoderOptions & DecoderTransformOptions = {},
): Transform {
  return createDecoderTransform(new BinaryFrameDecoder(options), options)
}

/** A Web `TransformStream` of frames: core's `createDecoderStream`. */
export function createBinaryFrameStream(
  options: FrameDecoderOptions & DecoderStreamOptions<BinaryFrame> = {},
): TransformStream<BinaryInput, BinaryFrame> {
  return createDecoderStream(new BinaryFrameDecoder(options), options)
}

/** Decodes a socket's `'data'` into `handlers.frame`, pausing while it lags: core's `attachDecoder`. */
export function attachBinaryFrames(
  source: Readable | Duplex,
  handlers: AttachHandlers<BinaryFrame>,
  options: FrameDecoderOptions & AttachOptions = {},
): AttachedDecoder {
  return attachDecoder(source, new BinaryFrameDecoder(options), handlers, options)
}
