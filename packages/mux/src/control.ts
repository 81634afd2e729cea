import { ProtocolError } from '@verb-tcp/core'
import { hexPreview } from '@verb-tcp/core/codec'
import {
  COMPACT_STREAM_ID,
  COMPACT_WINDOW_BYTES,
  COMPACT_WINDOW_KIND,
  CONTROL_STREAM_ID,
  HEADER_BYTES,
  MAX_LIMIT,
} from './constants.ts'
import { MuxErrorCode } from './errors.ts'
import type { StreamMetadata } from './types.ts'

/** Every control message, as JSON on stream 0 (window updates may also be compact records). */
export type ControlMessage =
  | {
      type: 'hello'
      version: number
      initialWindow: number
      sessionWindow: number
      maxStreams: number
      maxFrameSize: number
      features: string[]
    }
  | { type: 'stream_create'; streamId: number; streamType: string; metadata: StreamMetadata }
  | { type: 'stream_close'; streamId: number }
  | { type: 'stream_reset'; streamId: number; code: number }
  | { type: 'window_update'; streamId: number; limit: number }
  | { type: 'ping'; id: number }
  | { type: 'pong'; id: number }
  | { type: 'goaway'; lastStreamId: number; code: number; reason: string }

/** A control message of a type this version does not know: ignored, for forward compatibility. */
export interface UnknownControl {
  type: 'unknown'
}

/** One frame on stream 0 carrying `message` as JSON. */
export function encodeControl(message: ControlMessage): Buffer {
  const json = JSON.stringify(message)
  const length = Buffer.byteLength(json)
  const frame = Buffer.allocUnsafe(HEADER_BYTES + length)
  frame.writeUInt32BE(CONTROL_STREAM_ID, 0)
  frame.writeUInt32BE(length, 4)
  frame.write(json, HEADER_BYTES, 'utf8')
  return frame
}

/** Writes the 8-byte header of a compact frame holding `records` window updates into `out`. */
export function writeCompactHeader(out: Buffer, records: number): void {
  out.writeUInt32BE(COMPACT_STREAM_ID, 0)
  out.writeUInt32BE(records * COMPACT_WINDOW_BYTES, 4)
}

/** Writes one compact window-update record at `at`. */
export function writeCompactWindow(out: Buffer, at: number, streamId: number, limit: number): void {
  out[at] = COMPACT_WINDOW_KIND
  out.writeUInt32BE(streamId, at + 1)
  out.writeUInt32BE(Math.floor(limit / 0x1_0000_0000), at + 5)
  out.writeUInt32BE(limit >>> 0, at + 9)
}

/** Decodes a compact frame into window updates, calling `each(streamId, limit)` per record. */
export function readCompact(
  payload: Buffer,
  each: (streamId: number, limit: number) => void,
): ProtocolError | undefined {
  if (payload.length % COMPACT_WINDOW_BYTES !== 0) {
    return badControl(`compact control of ${payload.length} bytes is not whole records`, payload)
  }
  for (let at = 0; at < payload.length; at += COMPACT_WINDOW_BYTES) {
    if (payload[at] !== COMPACT_WINDOW_KIND) {
      return badControl(`unknown compact record kind ${payload[at]}`, payload.subarray(at))
    }
    const high = payload.readUInt32BE(at + 5)
    const limit = high * 0x1_0000_0000 + payload.readUInt32BE(at + 9)
    if (limit > MAX_LIMIT) return badControl('window limit beyond 2^53', payload.subarray(at))
    each(payload.readUInt32BE(at + 1), limit)
  }
  return undefined
}

function badControl(message: string, bytes: Uint8Array, cause?: unknown): ProtocolError {
  return new ProtocolError(
    MuxErrorCode.BAD_CONTROL,
    `${message} (${hexPreview(bytes)})`,
    cause === undefined ? {} : { cause },
  )
}

const isU32 = (v: unknown): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff
const isLimit = (v: unknown): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_LIMIT

/** Parses and validates one JSON control payload. */
export function parseControl(payload: Buffer): ControlMessage | UnknownControl | ProtocolError {
  let value: unknown
  try {
    value = JSON.parse(payload.toString('utf8'))
  } catch (cause) {
    return badControl('control message is not JSON', payload, cause)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return badControl('control message is not an object', payload)
  }
  const m = value as Record<string, unknown>
  const bad = (what: string) => badControl(`${String(m.type)}: ${what}`, payload)
  switch (m.type) {
    case 'hello': {
      for (const k of ['version', 'initialWindow', 'sessionWindow', 'maxStreams', 'maxFrameSize']) {
        if (!isU32(m[k])) return bad(`${k} must be a u32`)
      }
      const features = Array.isArray(m.features)
        ? m.features.filter((f): f is string => typeof f === 'string')
        : []
      return { ...(m as Extract<ControlMessage, { type: 'hello' }>), features }
    }
    case 'stream_create': {
      if (!isU32(m.streamId)) return bad('streamId must be a u32')
      const streamType = m.streamType === undefined ? '' : m.streamType
      if (typeof streamType !== 'string') return bad('streamType must be a string')
      const metadata = m.metadata === undefined || m.metadata === null ? {} : m.metadata
      if (typeof metadata !== 'object' || Array.isArray(metadata))
        return bad('metadata must be an object')
      return {
        type: 'stream_create',
        streamId: m.streamId,
        streamType,
        metadata: metadata as StreamMetadata,
      }
    }
    case 'stream_close':
      if (!isU32(m.streamId)) return bad('streamId must be a u32')
      return { type: 'stream_close', streamId: m.streamId }
    case 'stream_reset':
      if (!isU32(m.streamId)) return bad('streamId must be a u32')
      return { type: 'stream_reset', streamId: m.streamId, code: isU32(m.code) ? m.code : 0 }
    case 'window_update':
      if (!isU32(m.streamId)) return bad('streamId must be a u32')
      if (!isLimit(m.limit)) return bad('limit must be an integer from 0 to 2^53-1')
      return { type: 'window_update', streamId: m.streamId, limit: m.limit }
    case 'ping':
    case 'pong':
      if (!isU32(m.id)) return bad('id must be a u32')
      return { type: m.type, id: m.id }
    case 'goaway':
      if (!isU32(m.lastStreamId)) return bad('lastStreamId must be a u32')
      return {
        type: 'goaway',
        lastStreamId: m.lastStreamId,
        code: isU32(m.code) ? m.code : 0,
        reason: typeof m.reason === 'string' ? m.reason : '',
      }
    default:
      if (typeof m.type !== 'string') return bad('type must be a string')
      return { type: 'unknown' }
  }
}
