import { checkFrameLimit } from '@verb-tcp/core/codec'
import { MAX_FRAME_BYTES_LIMIT } from './constants.ts'

/** Validates a byte limit option (0 – 2^32 − 1), so a bad config fails at construction. */
export function checkLimit(value: number | undefined, name?: string): number {
  return checkFrameLimit(value, MAX_FRAME_BYTES_LIMIT, name)
}
