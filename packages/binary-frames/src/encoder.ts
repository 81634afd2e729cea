import type { Writable } from 'node:stream'
import { ProtocolError } from '@verb-tcp/core'
import { argError, knownKeys, optionKeys } from '@verb-tcp/core/validate'
import {
  COALESCE_MAX_BYTES,
  HEADER_BYTES,
  MAX_FLAGS,
  MAX_FRAME_BYTES_LIMIT,
  MAX_TYPE,
} from './constants.ts'
import { BinaryFramesErrorCode } from './errors.ts'
import { checkLimit } from './limits.ts'
import type { EncoderOptions } from './types.ts'

const ENCODER_KEYS = optionKeys<EncoderOptions>({ maxFrameBytes: true })

function checkField(value: unknown, name: string, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new ProtocolError(
      BinaryFramesErrorCode.ENCODE_RANGE,
      `${name} must be an integer from 0 to ${max}, got ${String(value)}`,
    )
  }
}

/**
 * Validates one frame before a byte is written. `limit` is already a valid limit.
 * @internal
 */
export function checkFrame(type: number, payload: Uint8Array, flags: number, limit: number): void {
  checkField(type, 'type', MAX_TYPE)
  checkField(flags, 'flags', MAX_FLAGS)
  if (!(payload instanceof Uint8Array)) {
    throw argError(
      'ERR_INVALID_ARG_TYPE',
      `payload must be a Uint8Array (a Buffer, say), got ${typeof payload}`,
    )
  }
  const length = payload.byteLength
  if (length > limit) {
    throw new ProtocolError(
      BinaryFramesErrorCode.FRAME_TOO_LARGE,
      `cannot encode a frame of ${length} bytes: the limit is ${limit}`,
      { declaredLength: length, limit },
    )
  }
}

function newHeader(type: number, length: number, flags: number): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES)
  writeHeader(header, type, length, flags)
  return header
}

function writeHeader(out: Buffer, type: number, length: number, flags: number): void {
  out[0] = type >>> 8
  out[1] = type
  out[2] = length >>> 24
  out[3] = length >>> 16
  out[4] = length >>> 8
  out[5] = length
  out[6] = flags >>> 8
  out[7] = flags
}

/**
 * The 8-byte header alone: `u16 type | u32 length | u16 flags`, big-endian. Throws
 * `ERR_ENCODE_RANGE` for a type or flags outside 0–65535 or a length outside 0 – 2^32 − 1.
 */
export function encodeHeader(type: number, length: number, flags = 0): Buffer {
  checkField(type, 'type', MAX_TYPE)
  checkField(length, 'length', MAX_FRAME_BYTES_LIMIT)
  checkField(flags, 'flags', MAX_FLAGS)
  return newHeader(type, length, flags)
}

/**
 * One frame as one buffer: header + a copy of the payload. Everything is checked first:
 * `ERR_ENCODE_RANGE` for a bad type or flags, `ERR_FRAME_TOO_LARGE` over the limit (8 MiB by
 * default), a `TypeError` for a payload that is not bytes. For large payloads prefer
 * `encodeFrameParts` or `writeFrame`, which do not copy the payload.
 *
 * @example
 * ```ts
 * socket.write(encodeFrame(DATA, Buffer.from('hello')))
 * ```
 */
export function encodeFrame(
  type: number,
  payload: Uint8Array,
  flags = 0,
  options: EncoderOptions = {},
): Buffer {
  knownKeys(options, ENCODER_KEYS, 'encodeFrame')
  checkFrame(type, payload, flags, checkLimit(options.maxFrameBytes))
  return concatFrame(type, payload, flags)
}

/** @internal Header and payload in one new buffer; the frame is already checked. */
export function concatFrame(type: number, payload: Uint8Array, flags: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.byteLength)
  writeHeader(out, type, payload.byteLength, flags)
  out.set(payload, HEADER_BYTES)
  return out
}

/**
 * A frame as `[header, payload]`, the payload itself (not a copy): for gathering writes
 * (`writev`, `socket.cork()`) of large payloads. Checked like `encodeFrame`.
 */
export function encodeFrameParts(
  type: number,
  payload: Uint8Array,
  flags = 0,
  options: EncoderOptions = {},
): [header: Buffer, payload: Uint8Array] {
  knownKeys(options, ENCODER_KEYS, 'encodeFrameParts')
  checkFrame(type, payload, flags, checkLimit(options.maxFrameBytes))
  return [newHeader(type, payload.byteLength, flags), payload]
}

/** @internal `writeFrame` for a frame that is already checked. */
export function writeCheckedFrame(
  stream: Writable,
  type: number,
  payload: Uint8Array,
  flags: number,
): boolean {
  if (payload.byteLength <= COALESCE_MAX_BYTES) {
    return stream.write(concatFrame(type, payload, flags))
  }
  const header = newHeader(type, payload.byteLength, flags)
  // Corked, the two writes leave as one writev: no copy of the payload, one syscall.
  stream.cork()
  stream.write(header)
  const ok = stream.write(payload)
  stream.uncork()
  return ok
}

/**
 * Writes one frame to a socket (or any `Writable`) and returns what `write` returned: false
 * means wait for `'drain'`. Payloads up to 16 KiB are copied behind the header and written as one
 * buffer; larger ones are written as header + payload in one corked write, without a copy.
 * Checked like `encodeFrame`; nothing is written when a check fails.
 */
export function writeFrame(
  stream: Writable,
  type: number,
  payload: Uint8Array,
  flags = 0,
  options: EncoderOptions = {},
): boolean {
  knownKeys(options, ENCODER_KEYS, 'writeFrame')
  checkFrame(type, payload, flags, checkLimit(options.maxFrameBytes))
  return writeCheckedFrame(stream, type, payload, flags)
}
