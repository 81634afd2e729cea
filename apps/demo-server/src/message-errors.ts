/**
 * The `code`s of the `error` messages the message port sends, and when each is sent: the one
 * list the server's replies and the README's table come from (`test/message-errors.test.ts`
 * renders the table from it and fails when the README's differs).
 */

/** Room names: UTF-8 bytes, as `@verb-tcp/rooms` counts them. */
export const MAX_ROOM_NAME_BYTES = 128
/** Rooms one connection may be in at once. */
export const MAX_ROOMS_PER_CLIENT = 100
/** Members one room may have on one server process. */
export const MAX_MEMBERS_PER_ROOM = 10_000
/** The largest room message, encoded as the members receive it. */
export const MAX_ROOM_MESSAGE_BYTES = 1024 * 1024

export const MessageErrorCode = {
  UNKNOWN_TYPE: 'ERR_UNKNOWN_TYPE',
  BAD_REQUEST: 'ERR_BAD_REQUEST',
  UNKNOWN_TARGET: 'ERR_UNKNOWN_TARGET',
  NOT_IN_ROOM: 'ERR_NOT_IN_ROOM',
  ROOM_NAME: 'ERR_ROOM_NAME',
  ROOM_RESERVED: 'ERR_ROOM_RESERVED',
  TOO_MANY_ROOMS: 'ERR_TOO_MANY_ROOMS',
  ROOM_FULL: 'ERR_ROOM_FULL',
  MESSAGE_REFUSED: 'ERR_MESSAGE_REFUSED',
  INVALID_JSON: 'ERR_INVALID_JSON',
  INVALID_UTF8: 'ERR_INVALID_UTF8',
  BAD_LENGTH: 'ERR_BAD_LENGTH',
  FRAME_TOO_LARGE: 'ERR_FRAME_TOO_LARGE',
  TRUNCATED_FRAME: 'ERR_TRUNCATED_FRAME',
  SERVER_FULL: 'ERR_SERVER_FULL',
  TOO_MANY_CONNECTIONS: 'ERR_TOO_MANY_CONNECTIONS',
} as const

export type MessageErrorCode = (typeof MessageErrorCode)[keyof typeof MessageErrorCode]

/** One row of the README's table: codes that share a `when` are listed together. */
export interface MessageErrorRow {
  codes: readonly MessageErrorCode[]
  /** Markdown, as it appears in the README. */
  when: string
}

const C = MessageErrorCode
export const MESSAGE_ERRORS: readonly MessageErrorRow[] = [
  {
    codes: [C.UNKNOWN_TYPE],
    when: 'A `type` the server does not know (message: `Unknown message type: <type>`, as in the verb docs).',
  },
  {
    codes: [C.BAD_REQUEST],
    when: 'Not an object with a string `type`, or a field missing or of the wrong type: `room` not a string, `target` not a string, no `data` in `broadcast`, `private` or `room_message`.',
  },
  { codes: [C.UNKNOWN_TARGET], when: '`private` to an id that is not connected.' },
  {
    codes: [C.NOT_IN_ROOM],
    when: '`room_message` or `leave_room` for a room the connection is not in.',
  },
  {
    codes: [C.ROOM_NAME],
    when: `\`join_room\` with an empty room name, one over ${MAX_ROOM_NAME_BYTES} bytes of UTF-8, or one with control characters.`,
  },
  {
    codes: [C.ROOM_RESERVED],
    when: '`join_room` with a name starting with `$` (kept for the server’s own rooms).',
  },
  {
    codes: [C.TOO_MANY_ROOMS],
    when: `\`join_room\` when the connection is already in ${MAX_ROOMS_PER_CLIENT} rooms.`,
  },
  {
    codes: [C.ROOM_FULL],
    when: `\`join_room\` when the room has ${MAX_MEMBERS_PER_ROOM.toLocaleString('en')} members on this server process.`,
  },
  {
    codes: [C.MESSAGE_REFUSED],
    when: `\`room_message\` over ${MAX_ROOM_MESSAGE_BYTES / 1024 / 1024} MiB as the members would receive it.`,
  },
  {
    codes: [C.INVALID_JSON, C.INVALID_UTF8],
    when: 'The frame was not JSON, or not UTF-8 (json-frames’ codes; the connection stays).',
  },
  {
    codes: [C.BAD_LENGTH, C.FRAME_TOO_LARGE, C.TRUNCATED_FRAME],
    when: 'Not json-frames, over `--max-frame-bytes`, or the client ended its side inside a frame; the connection is then closed.',
  },
  {
    codes: [C.SERVER_FULL, C.TOO_MANY_CONNECTIONS],
    when: 'Refused at accept (see the limits above); the connection is then closed.',
  },
]

/** The README's table of error codes, line by line. */
export function errorTable(): string {
  const rows = MESSAGE_ERRORS.map(
    ({ codes, when }) => `| ${codes.map((c) => `\`${c}\``).join(', ')} | ${when} |`,
  )
  return ['| Code | When |', '| --- | --- |', ...rows].join('\n')
}
