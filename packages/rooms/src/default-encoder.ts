import { createRequire } from 'node:module'
import { argError } from '@verb-tcp/core/validate'
import type { Encoder } from './types.ts'

let cached: Encoder | undefined

/**
 * json-frames' `encodeMessage`, loaded on first use: rooms has no runtime dependency on a codec,
 * and an application that passes its own encoder never loads json-frames.
 */
export function defaultEncoder(): Encoder {
  if (cached) return cached
  const require = createRequire(typeof __filename === 'string' ? __filename : import.meta.url)
  let jsonFrames: { encodeMessage?: Encoder }
  try {
    jsonFrames = require('@verb-tcp/json-frames')
  } catch (cause) {
    const error = argError(
      'ERR_INVALID_ARG_VALUE',
      'TCPRoomManager without an encoder needs @verb-tcp/json-frames: install it, or pass options.encoder',
    )
    ;(error as Error).cause = cause
    throw error
  }
  const encode = jsonFrames.encodeMessage
  if (typeof encode !== 'function') {
    throw argError('ERR_INVALID_ARG_VALUE', '@verb-tcp/json-frames has no encodeMessage')
  }
  cached = (message) => encode(message)
  return cached
}
