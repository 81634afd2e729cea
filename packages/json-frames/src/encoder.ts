import { ProtocolError } from '@verb-tcp/core'
import { knownKeys, optionKeys } from '@verb-tcp/core/validate'
import { JsonFramesErrorCode } from './errors.ts'
import { checkLimit } from './limits.ts'
import type { EncoderOptions } from './types.ts'

const ENCODER_KEYS = optionKeys<EncoderOptions>({ maxFrameBytes: true })

function tooLarge(length: number, limit: number): ProtocolError {
  return new ProtocolError(
    JsonFramesErrorCode.FRAME_TOO_LARGE,
    `cannot encode a frame of ${length} bytes: the limit is ${limit}`,
    { declaredLength: length, limit },
  )
}

/**
 * One frame, `<byte length>\n<payload>`, as one buffer. Throws `ERR_FRAME_TOO_LARGE` before
 * allocating anything when the payload is over the limit.
 */
export function encodeFrame(payload: Uint8Array, options: EncoderOptions = {}): Buffer {
  knownKeys(options, ENCODER_KEYS, 'encodeFrame')
  const limit = checkLimit(options.maxFrameBytes)
  const length = payload.byteLength
  if (length > limit) throw tooLarge(length, limit)
  const header = `${length}\n`
  const out = Buffer.allocUnsafe(header.length + length)
  out.write(header, 0, 'latin1')
  out.set(payload, header.length)
  return out
}

/**
 * `JSON.stringify(message)` framed with its UTF-8 byte length (not its string length), as one
 * buffer ready for `socket.write`. Everything is checked before anything is returned:
 * `ERR_UNSERIALIZABLE` for values JSON cannot carry, `ERR_FRAME_TOO_LARGE` over the limit.
 * Lone surrogates cannot corrupt the frame: `JSON.stringify` escapes them.
 */
export function encodeMessage(message: unknown, options: EncoderOptions = {}): Buffer {
  knownKeys(options, ENCODER_KEYS, 'encodeMessage')
  return encodeWithin(message, checkLimit(options.maxFrameBytes))
}

/**
 * `encodeMessage` with a limit already checked: what a handler that validated its options once
 * calls for every message, with no options object to build and check each time.
 * @internal
 */
export function encodeWithin(message: unknown, limit: number): Buffer {
  let json: string | undefined
  try {
    json = JSON.stringify(message)
  } catch (cause) {
    throw new ProtocolError(
      JsonFramesErrorCode.UNSERIALIZABLE,
      'message cannot be serialized as JSON',
      {
        cause,
      },
    )
  }
  if (json === undefined) {
    throw new ProtocolError(
      JsonFramesErrorCode.UNSERIALIZABLE,
      `a ${typeof message} has no JSON form`,
    )
  }
  const length = Buffer.byteLength(json)
  if (length > limit) throw tooLarge(length, limit)
  const header = `${length}\n`
  const out = Buffer.allocUnsafe(header.length + length)
  out.write(header, 0, 'latin1')
  out.write(json, header.length, 'utf8')
  return out
}
