/** Longest room name, in UTF-8 bytes. */
export const DEFAULT_MAX_ROOM_NAME_BYTES = 128
/** Room names starting with this are refused to peers (kept for the server's own use). */
export const DEFAULT_RESERVED_PREFIX = '$'
export const DEFAULT_MAX_ROOMS_PER_CLIENT = 100
export const DEFAULT_MAX_MEMBERS_PER_ROOM = 10_000
/** Bytes a member may have queued (socket buffer + this turn's messages) before it counts as slow. */
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024
/** Largest encoded broadcast, in bytes. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024
/** How long `members()` waits for other nodes. */
export const DEFAULT_MEMBERS_TIMEOUT_MS = 5000
