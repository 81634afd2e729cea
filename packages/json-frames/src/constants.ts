/** Default largest payload, in bytes, for decoding and for encoding. 8 MiB, as tokio-util. */
export { DEFAULT_MAX_FRAME_BYTES } from '@verb-tcp/core/codec'

/**
 * The largest limit that can be configured: a Node Buffer's maximum on 64-bit Node 20 (4 GiB).
 * It also keeps every length we parse far below 2^53, so no digit is ever lost.
 */
export const MAX_FRAME_BYTES_LIMIT = 2 ** 32

/**
 * With `oversize: 'skip'`, how many digits a header may have before it is fatal anyway:
 * 15 digits stay exact in a double, and a slow-loris drip of digits still ends quickly.
 */
export const MAX_SKIP_DIGITS = 15

/** The byte that ends a header. */
export const LF = 0x0a
