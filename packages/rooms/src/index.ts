/**
 * `@verb-tcp/rooms`: rooms of TCP connections, the verb docs' `TCPRoomManager` made fast and
 * safe. One encode per broadcast, one socket write per member per event-loop turn, a cap on what
 * a slow member may queue, coded refusals that leave state unchanged, and an adapter seam for
 * running rooms across several nodes (`@verb-tcp/rooms-redis`).
 *
 * @example
 * ```ts
 * import { createServer } from '@verb-tcp/core'
 * import { MessageHandler } from '@verb-tcp/json-frames'
 * import { TCPRoomManager } from '@verb-tcp/rooms'
 *
 * const rooms = new TCPRoomManager() // frames with json-frames' encodeMessage
 * let next = 0
 * const app = createServer().withOptions({
 *   port: 8080,
 *   tcp: {
 *     onConnection: (socket) => {
 *       const id = `c${++next}`
 *       rooms.addClient(id, socket)
 *       new MessageHandler(socket).on('message', (message) => {
 *         if (message.type === 'join_room') rooms.joinRoom(id, message.room)
 *         if (message.type === 'say') rooms.broadcastToRoom(message.room, message, id)
 *       })
 *     },
 *   },
 * })
 * await app.listen()
 * ```
 * @packageDocumentation
 */
export {
  InProcessAdapter,
  type InProcessAdapterOptions,
  InProcessBus,
  type MemberInfo,
  type MembersOptions,
  type MembersResult,
  type PublishOptions,
  type RoomMember,
  type RoomsAdapter,
  type RoomsAdapterHost,
} from './adapter.ts'
export {
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_MEMBERS_PER_ROOM,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_ROOM_NAME_BYTES,
  DEFAULT_MAX_ROOMS_PER_CLIENT,
  DEFAULT_MEMBERS_TIMEOUT_MS,
  DEFAULT_RESERVED_PREFIX,
} from './constants.ts'
export { RoomsErrorCode } from './errors.ts'
export { TCPRoomManager } from './room-manager.ts'
export { checkRoomName } from './room-name.ts'
export type {
  AuthorizeHook,
  ClientInfo,
  Encoder,
  ErrorNotice,
  RoomManagerEvents,
  RoomManagerOptions,
  RoomStats,
  UserJoinedNotice,
  UserLeftNotice,
} from './types.ts'
