import { intInRange } from '../validate.ts'

/** Default largest payload, in bytes, for decoding and for encoding, in every codec. 8 MiB, as tokio-util. */
export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024

/**
 * Validates a frame-size limit option: an integer from 0 to `max`, or the default when absent.
 * A bad limit is a programming error, so it throws `@verb-tcp/core/validate`'s coded
 * `TypeError`/`RangeError` naming the option.
 */
export function checkFrameLimit(
  value: number | undefined,
  max: number,
  name = 'maxFrameBytes',
  fallback = DEFAULT_MAX_FRAME_BYTES,
): number {
  return intInRange(value, name, fallback, 0, max)
}
