import type { Clock } from './types.ts'

/**
 * Monotonic milliseconds: a wall-clock step (NTP, a VM resuming) neither expires every window
 * nor makes every connection look idle.
 */
export const monotonic: Clock = () => performance.now()
