/**
 * Codes of the `ProtocolError`s a room manager reports for what a peer asked for (a join, a
 * broadcast). A refusal leaves the manager's state exactly as it was.
 */
export const RoomsErrorCode = {
  /** The room name is not a string, is empty, is too long, or has control characters. */
  ROOM_NAME: 'ERR_ROOM_NAME',
  /** The room name starts with the reserved prefix (kept for the server's own rooms). */
  ROOM_RESERVED: 'ERR_ROOM_RESERVED',
  /** The client is already in `maxRoomsPerClient` rooms. */
  TOO_MANY_ROOMS: 'ERR_TOO_MANY_ROOMS',
  /** The room already has `maxMembersPerRoom` local members. */
  ROOM_FULL: 'ERR_ROOM_FULL',
  /** The `authorize` hook refused the join (returned false, threw or rejected). */
  JOIN_REFUSED: 'ERR_JOIN_REFUSED',
  /** A broadcast from a client that is not in the room, with `nonMemberBroadcast: 'refuse'`. */
  NOT_IN_ROOM: 'ERR_NOT_IN_ROOM',
  /** The encoded broadcast is over `maxMessageBytes`, or the encoder refused the message. */
  MESSAGE_REFUSED: 'ERR_MESSAGE_REFUSED',
} as const

export type RoomsErrorCode = (typeof RoomsErrorCode)[keyof typeof RoomsErrorCode]
