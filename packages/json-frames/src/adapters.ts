// The json-frames adapter set, the same four binary-frames offers: core's adapters, each with a
// `MessageDecoder` built from the options. The adapters and the wrapping are written once, in
// @verb-tcp/core/codec.
import { codecAdapters } from '@verb-tcp/core/codec'
import { MessageDecoder } from './message-decoder.ts'
import type { MessageDecoderOptions } from './types.ts'

// biome-ignore lint/suspicious/noExplicitAny: messages are untyped JSON unless the caller narrows them
const adapters = codecAdapters<any, MessageDecoderOptions>((options) => new MessageDecoder(options))

/**
 * `for await` over the JSON messages of a socket, `Readable` or (async) iterable of chunks:
 * core's `iterateFrames` with a `MessageDecoder`. With `batch: true`, one array per input chunk.
 */
export const iterateMessages = adapters.iterate

/** A Node `Transform`, bytes in, one parsed message out per frame: core's `createDecoderTransform`. */
export const createMessageTransform = adapters.transform

/** A Web `TransformStream` of parsed messages: core's `createDecoderStream`. */
export const createMessageStream = adapters.stream

/** Decodes a socket's `'data'` into `handlers.frame`, pausing while it lags: core's `attachDecoder`. */
export const attachMessages = adapters.attach
