import type { Readable } from 'node:stream'
import type { ProtocolError } from '../errors.ts'
import type { BinaryInput, DecodeSink, SyncDecoder } from './decoder.ts'
import type { RecoverableErrorOption } from './transform.ts'

export type ByteSource = AsyncIterable<BinaryInput> | Iterable<BinaryInput> | Readable

export interface IterateOptions extends RecoverableErrorOption {
  /**
   * Yield an array with every frame decoded from one input chunk instead of one frame at a time:
   * one promise per chunk instead of one per frame. Arrays are never empty.
   */
  batch?: boolean
}

/**
 * Decodes a socket, a `Readable` or any (async) iterable of byte chunks, as an async iterator
 * of frames. Pull-based: the next chunk is read only when the frames of the last one are consumed.
 * Breaking out of the loop releases the source (a `Readable` is destroyed). Errors reject `next()`
 * after the frames that came before them.
 */
export function iterateFrames<T>(
  source: ByteSource,
  decoder: SyncDecoder<T>,
  options: IterateOptions & { batch: true },
): AsyncGenerator<T[], void, undefined>
export function iterateFrames<T>(
  source: ByteSource,
  decoder: SyncDecoder<T>,
  options?: IterateOptions & { batch?: false },
): AsyncGenerator<T, void, undefined>
export function iterateFrames<T>(
  source: ByteSource,
  decoder: SyncDecoder<T>,
  options: IterateOptions = {},
): AsyncGenerator<T | T[], void, undefined> {
  return options.batch === true
    ? batches(source, decoder, options.onRecoverableError)
    : frames(source, decoder, options.onRecoverableError)
}

interface Collector<T> extends DecodeSink<T> {
  out: T[]
  failure: ProtocolError | undefined
}

function collector<T>(onRecoverableError: ((error: ProtocolError) => void) | undefined) {
  const c: Collector<T> = {
    out: [],
    failure: undefined,
    frame(value) {
      if (c.failure === undefined) c.out.push(value)
    },
    error(error) {
      if (error.recoverable && onRecoverableError !== undefined) onRecoverableError(error)
      else c.failure ??= error
    },
  }
  return c
}

async function* frames<T>(
  source: ByteSource,
  decoder: SyncDecoder<T>,
  onRecoverableError: ((error: ProtocolError) => void) | undefined,
): AsyncGenerator<T, void, undefined> {
  const c = collector<T>(onRecoverableError)
  for await (const chunk of source as AsyncIterable<BinaryInput>) {
    decoder.push(chunk, c)
    const out = c.out
    for (let i = 0; i < out.length; i++) yield out[i] as T
    out.length = 0
    if (c.failure !== undefined) throw c.failure
  }
  decoder.end(c)
  yield* c.out
  if (c.failure !== undefined) throw c.failure
}

async function* batches<T>(
  source: ByteSource,
  decoder: SyncDecoder<T>,
  onRecoverableError: ((error: ProtocolError) => void) | undefined,
): AsyncGenerator<T[], void, undefined> {
  const c = collector<T>(onRecoverableError)
  for await (const chunk of source as AsyncIterable<BinaryInput>) {
    decoder.push(chunk, c)
    if (c.out.length > 0) {
      const batch = c.out
      c.out = []
      yield batch
    }
    if (c.failure !== undefined) throw c.failure
  }
  decoder.end(c)
  if (c.out.length > 0) yield c.out
  if (c.failure !== undefined) throw c.failure
}
