import type { Duplex, Readable, Transform } from 'node:stream'
import { optionKeys, withoutKeys } from '../validate.ts'
import {
  type AttachedDecoder,
  type AttachHandlers,
  type AttachOptions,
  attachDecoder,
} from './attach.ts'
import type { BinaryInput, SyncDecoder } from './decoder.ts'
import { type ByteSource, type IterateOptions, iterateFrames } from './iterate.ts'
import { createDecoderTransform, type DecoderTransformOptions } from './transform.ts'
import { createDecoderStream, type DecoderStreamOptions } from './web-stream.ts'

/**
 * The four ways to read a byte source through one codec, each building a fresh decoder from
 * the options it is given (decoder options and adapter options in one object).
 */
export interface CodecAdapters<T, O> {
  /** `for await` over the frames of a socket, `Readable` or (async) iterable of chunks. */
  iterate(
    source: ByteSource,
    options: O & IterateOptions & { batch: true },
  ): AsyncGenerator<T[], void, undefined>
  iterate(
    source: ByteSource,
    options?: O & IterateOptions & { batch?: false },
  ): AsyncGenerator<T, void, undefined>
  /** A Node `Transform`: bytes in, one object out per frame. */
  transform(options?: O & DecoderTransformOptions): Transform
  /** A Web `TransformStream` of frames. */
  stream(options?: O & DecoderStreamOptions<T>): TransformStream<BinaryInput, T>
  /** Decodes a socket's `'data'` into `handlers.frame`, pausing while the consumer lags. */
  attach(
    source: Readable | Duplex,
    handlers: AttachHandlers<T>,
    options?: O & AttachOptions,
  ): AttachedDecoder
}

// Each adapter's own option keys; optionKeys makes the typecheck fail when one is missing.
const ITERATE_KEYS = optionKeys<IterateOptions>({ batch: true, onRecoverableError: true })
const TRANSFORM_KEYS = optionKeys<DecoderTransformOptions>({
  onRecoverableError: true,
  readableHighWaterMark: true,
})
const STREAM_KEYS = optionKeys<DecoderStreamOptions<unknown>>({
  onRecoverableError: true,
  readableStrategy: true,
  writableStrategy: true,
})
const ATTACH_KEYS = optionKeys<AttachOptions>({
  maxPending: true,
  maxFramesPerTurn: true,
  budget: true,
})

/**
 * A codec's adapter set from its decoder's constructor: how json-frames and binary-frames (and
 * your own codec) offer `iterate…`, `create…Transform`, `create…Stream` and `attach…` without
 * writing the wrappers again.
 *
 * @example
 * ```ts
 * const lines = codecAdapters((options: LineOptions = {}) => new LineDecoder(options))
 * export const iterateLines = lines.iterate
 * ```
 */
export function codecAdapters<T, O extends object>(
  create: (options: O) => SyncDecoder<T>,
): CodecAdapters<T, O> {
  // The decoder gets the options minus the adapter's own, so it can reject keys nobody knows.
  const decoder = (options: O, own: readonly string[]) => create(withoutKeys(options, own) as O)
  return {
    iterate: ((source: ByteSource, options: O & IterateOptions = {} as O) =>
      options.batch === true
        ? iterateFrames(source, decoder(options, ITERATE_KEYS), { ...options, batch: true })
        : iterateFrames(source, decoder(options, ITERATE_KEYS), {
            ...options,
            batch: false,
          })) as CodecAdapters<T, O>['iterate'],
    transform: (options = {} as O) =>
      createDecoderTransform(decoder(options, TRANSFORM_KEYS), options),
    stream: (options = {} as O & DecoderStreamOptions<T>) =>
      createDecoderStream(decoder(options, STREAM_KEYS), options),
    attach: (source, handlers, options = {} as O & AttachOptions) =>
      attachDecoder(source, decoder(options, ATTACH_KEYS), handlers, options),
  }
}
