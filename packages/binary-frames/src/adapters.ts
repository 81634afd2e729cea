// The binary-frames adapter set: core's adapters, each with a `BinaryFrameDecoder` built from
// the options. The adapters and the wrapping are written once, in @verb-tcp/core/codec.
import { codecAdapters } from '@verb-tcp/core/codec'
import { BinaryFrameDecoder } from './frame-decoder.ts'
import type { BinaryFrame, FrameDecoderOptions } from './types.ts'

const adapters = codecAdapters<BinaryFrame, FrameDecoderOptions>(
  (options) => new BinaryFrameDecoder(options),
)

/**
 * `for await` over the frames of a socket, `Readable` or (async) iterable of chunks: core's
 * `iterateFrames` with a `BinaryFrameDecoder`. With `batch: true`, one array per input chunk.
 */
export const iterateBinaryFrames = adapters.iterate

/** A Node `Transform`, bytes in, one `BinaryFrame` object out per frame: core's `createDecoderTransform`. */
export const createBinaryFrameTransform = adapters.transform

/** A Web `TransformStream` of frames: core's `createDecoderStream`. */
export const createBinaryFrameStream = adapters.stream

/** Decodes a socket's `'data'` into `handlers.frame`, pausing while it lags: core's `attachDecoder`. */
export const attachBinaryFrames = adapters.attach
