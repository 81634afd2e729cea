/** Default largest payload, in bytes, for decoding and for encoding, in every codec. 8 MiB, as tokio-util. */
export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024

/**
 * Validates a frame-size limit option: an integer from 0 to `max`, or the default when absent.
 * A bad limit is a programming error, so it throws a `RangeError` naming the option.
 */
export function checkFrameLimit(
  value: number | undefined,
  max: number,
  name = 'maxFrameBytes',
  fallback = DEFAULT_MAX_FRAME_BYTES,
): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${name} must be an integer from 0 to ${max}, got ${value}`)
  }
  return value
}
