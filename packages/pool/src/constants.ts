/** The verb docs' `TCPConnectionPool.maxConnections`. */
export const DEFAULT_MAX_CONNECTIONS = 1000
/** The verb docs' `cleanup(maxIdleTime = 300000)`: 5 minutes. */
export const DEFAULT_MAX_IDLE_MS = 300_000
/**
 * Unsent bytes a broadcast receiver may hold before the slow-reader policy applies (1 MiB).
 * The worst case for the whole pool is `maxConnections × maxBufferedBytes` (about 1 GiB at the
 * defaults), plus one message each for receivers whose buffer was empty.
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024
/** The verb docs' `ConnectionThrottler(maxConnectionsPerIP = 10, …)`. */
export const DEFAULT_MAX_PER_WINDOW = 10
/** The verb docs' `ConnectionThrottler(…, timeWindow = 60000)`. */
export const DEFAULT_WINDOW_MS = 60_000
/** IPv6 clients are grouped by this prefix length: one customer usually gets a whole /64. */
export const DEFAULT_IPV6_PREFIX = 64
/** Addresses the throttler tracks at most; memory stays bounded under a flood of addresses. */
export const DEFAULT_MAX_TRACKED_ADDRESSES = 65_536
/** Entries the throttler inspects, oldest first, looking for one it may evict. */
export const EVICTION_SCAN = 64
/** The verb docs' `OptimizedBufferManager.bufferSize`: 64 KiB. */
export const DEFAULT_BUFFER_SIZE = 64 * 1024
/** Buffers a `BufferPool` keeps for reuse at most (4 MiB at the default size). */
export const DEFAULT_MAX_POOLED_BUFFERS = 64
