/** The envelope format this build writes and the only one it reads; anything else is malformed. */
export const ENVELOPE_VERSION = 1

/** What an envelope carries (byte 1). */
export const EnvelopeKind = {
  /** Records for one room: broadcasts and join/leave notices, in the order they happened. */
  ROOM: 1,
  /** "Which of your connections are in this room?", on the shared request channel. */
  MEMBERS_REQUEST: 2,
  /** One node's answer, on the requester's own response channel. */
  MEMBERS_REPLY: 3,
} as const

export type EnvelopeKind = (typeof EnvelopeKind)[keyof typeof EnvelopeKind]

/** What one record inside a room envelope is. */
export const RecordType = {
  /** A broadcast: the connection field is the excluded connection, if any. */
  MESSAGE: 1,
  /** A connection joined the room: it is the connection field; the payload is the notice. */
  JOIN: 2,
  /** A connection left the room (or its node died): the payload is the notice. */
  LEAVE: 3,
} as const

export type RecordType = (typeof RecordType)[keyof typeof RecordType]

/** The u16 connection length that means "no connection" (a broadcast that excludes nobody). */
export const NO_CONNECTION = 0xffff

/** Longest node id, room name or connection id an envelope can carry, in UTF-8 bytes. */
export const MAX_NODE_ID_BYTES = 255
export const MAX_NAME_BYTES = 0xfffe

/** Largest payload one record can carry (u32 length). */
export const MAX_PAYLOAD_BYTES = 0xffff_ffff
