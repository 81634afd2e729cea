/** The message types a client may send on the message port, counted by name in the metrics. */
export const CLIENT_TYPES = new Set([
  'ping',
  'broadcast',
  'private',
  'join_room',
  'leave_room',
  'room_message',
  'file_start',
  'file_chunk',
  'file_end',
])

/** The `code`s of the `error` messages the message port sends. */
export const MessageErrorCode = {
  /** The `type` is not one the server knows. */
  UNKNOWN_TYPE: 'ERR_UNKNOWN_TYPE',
  /** A field is missing or has the wrong type; `message` names it. */
  BAD_REQUEST: 'ERR_BAD_REQUEST',
  /** `private` to a connection id that is not connected. */
  UNKNOWN_TARGET: 'ERR_UNKNOWN_TARGET',
  /** `room_message` or `leave_room` for a room the connection is not in. */
  NOT_IN_ROOM: 'ERR_NOT_IN_ROOM',
} as const
