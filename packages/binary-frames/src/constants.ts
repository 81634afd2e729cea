/** Default largest payload, in bytes, for decoding and for encoding. 8 MiB, as tokio-util. */
export { DEFAULT_MAX_FRAME_BYTES } from '@verb-tcp/core/codec'

/** Bytes in a frame header: u16 type, u32 payload length, u16 flags, all big-endian. */
export const HEADER_BYTES = 8

/**
 * The largest limit that can be configured, and the largest payload the format can carry: the
 * u32 length field's maximum, 2^32 − 1.
 */
export const MAX_FRAME_BYTES_LIMIT = 0xffff_ffff

/** The largest message type and the largest flags value (u16 fields). */
export const MAX_TYPE = 0xffff
export const MAX_FLAGS = 0xffff

/** The verb docs' heartbeat request. Answered with `PONG` by `BinaryProtocolHandler` unless told otherwise. */
export const HEARTBEAT = 0x01
/** The verb docs' heartbeat reply; its payload is `PONG_PAYLOAD`. */
export const PONG = 0x02
/** The verb docs' data message. */
export const DATA = 0x10
/** The verb docs' file-transfer message. */
export const FILE_TRANSFER = 0x20

/** The verb docs' message types by name. */
export const MessageType = { HEARTBEAT, PONG, DATA, FILE_TRANSFER } as const

/** What a heartbeat is answered with: the ASCII bytes `pong`, as in the verb docs. */
export const PONG_PAYLOAD: Uint8Array = Uint8Array.of(0x70, 0x6f, 0x6e, 0x67)

/**
 * Payloads up to this size are copied behind their header into one buffer and written once;
 * larger ones are written as header + payload in one corked (`writev`) write, without copying.
 */
export const COALESCE_MAX_BYTES = 16 * 1024
