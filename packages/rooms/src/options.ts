import {
  argError,
  bool,
  fn,
  knownKeys,
  limit,
  ms,
  oneOf,
  positiveInt,
} from '@verb-tcp/core/validate'
import {
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_MEMBERS_PER_ROOM,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_ROOM_NAME_BYTES,
  DEFAULT_MAX_ROOMS_PER_CLIENT,
  DEFAULT_MEMBERS_TIMEOUT_MS,
  DEFAULT_RESERVED_PREFIX,
} from './constants.ts'
import { defaultEncoder } from './default-encoder.ts'
import type { AuthorizeHook, Encoder, RoomManagerOptions } from './types.ts'

const OPTION_KEYS = [
  'encoder',
  'adapter',
  'authorize',
  'maxRoomNameBytes',
  'reservedPrefix',
  'maxRoomsPerClient',
  'maxMembersPerRoom',
  'maxMessageBytes',
  'maxBufferedBytes',
  'slowMember',
  'nonMemberBroadcast',
  'replyErrors',
  'membersTimeoutMs',
  'notices',
] as const

/** Every option of `TCPRoomManager` but the adapter, checked, with its default filled in. */
export type ResolvedRoomOptions = ReturnType<typeof resolveOptions>

/** Checks a manager's options (`TypeError`/`RangeError` with Node's codes) and fills in the defaults. */
export function resolveOptions(options: RoomManagerOptions) {
  knownKeys(options, OPTION_KEYS, 'TCPRoomManager')
  const encoder = fn<Encoder | undefined>(options.encoder, 'encoder', undefined) ?? defaultEncoder()
  const authorize = fn<AuthorizeHook | undefined>(options.authorize, 'authorize', undefined)
  const maxRoomNameBytes = positiveInt(
    options.maxRoomNameBytes,
    'maxRoomNameBytes',
    DEFAULT_MAX_ROOM_NAME_BYTES,
  )
  if (options.reservedPrefix !== undefined && typeof options.reservedPrefix !== 'string') {
    throw argError('ERR_INVALID_ARG_TYPE', 'reservedPrefix must be a string')
  }
  const reservedPrefix = options.reservedPrefix ?? DEFAULT_RESERVED_PREFIX
  const maxRoomsPerClient = limit(
    options.maxRoomsPerClient,
    'maxRoomsPerClient',
    DEFAULT_MAX_ROOMS_PER_CLIENT,
  )
  const maxMembersPerRoom = limit(
    options.maxMembersPerRoom,
    'maxMembersPerRoom',
    DEFAULT_MAX_MEMBERS_PER_ROOM,
  )
  const maxMessageBytes = limit(
    options.maxMessageBytes,
    'maxMessageBytes',
    DEFAULT_MAX_MESSAGE_BYTES,
  )
  const maxBufferedBytes = limit(
    options.maxBufferedBytes,
    'maxBufferedBytes',
    DEFAULT_MAX_BUFFERED_BYTES,
  )
  const slowMember = oneOf(options.slowMember, 'slowMember', ['drop', 'close'], 'drop')
  const nonMemberBroadcast = oneOf(
    options.nonMemberBroadcast,
    'nonMemberBroadcast',
    ['allow', 'refuse'],
    'allow',
  )
  const replyErrors = bool(options.replyErrors, 'replyErrors', true)
  const notices = bool(options.notices, 'notices', true)
  const membersTimeoutMs = ms(
    options.membersTimeoutMs,
    'membersTimeoutMs',
    DEFAULT_MEMBERS_TIMEOUT_MS,
  )
  return {
    encoder,
    authorize,
    maxRoomNameBytes,
    reservedPrefix,
    maxRoomsPerClient,
    maxMembersPerRoom,
    maxMessageBytes,
    maxBufferedBytes,
    slowMember,
    nonMemberBroadcast,
    replyErrors,
    notices,
    membersTimeoutMs,
  }
}
