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
