// Membership and broadcast semantics over real loopback sockets: the single-node bad-input and
// fault cases a rooms package must handle, each with the behaviour we chose.
import { isProtocolError } from '@verb-tcp/core'
import { until } from '@verb-tcp/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { RoomsErrorCode } from '../src/index.ts'
import { added, closeEverything, manager, ofType, peers, settle } from './helpers.ts'

afterEach(closeEverything)

describe('room names', () => {
  const bad: Array<[string, unknown, string]> = [
    ['not a string', 42, RoomsErrorCode.ROOM_NAME],
    ['an object', { toString: () => 'x' }, RoomsErrorCode.ROOM_NAME],
    ['empty', '', RoomsErrorCode.ROOM_NAME],
    ['129 bytes', 'r'.repeat(129), RoomsErrorCode.ROOM_NAME],
    ['65 two-byte characters (130 bytes)', 'é'.repeat(65), RoomsErrorCode.ROOM_NAME],
    ['a newline', 'a\nb', RoomsErrorCode.ROOM_NAME],
    ['a NUL', 'a\u0000', RoomsErrorCode.ROOM_NAME],
    ['DEL', '\u007f', RoomsErrorCode.ROOM_NAME],
    ['a C1 control', 'a\u0085', RoomsErrorCode.ROOM_NAME],
    ['the reserved prefix', '$system', RoomsErrorCode.ROOM_RESERVED],
  ]
  for (const [what, name, code] of bad) {
    it(`refuses ${what} with ${code}, replies with a coded error, and changes nothing`, async () => {
      const rooms = manager()
      const refused: unknown[] = []
      rooms.on('refused', (info) => refused.push(info))
      const [a] = await added(rooms, 1)
      expect(rooms.joinRoom('c0', name as string)).toBe(false)
      expect(rooms.getClientRooms('c0')).toEqual([])
      expect(rooms.stats).toMatchObject({ rooms: 0, members: 0, refused: 1 })
      expect(refused).toHaveLength(1)
      const { error } = refused[0] as { error: Error & { code: string } }
      expect(isProtocolError(error)).toBe(true)
      expect(error.code).toBe(code)
      await until(() => ofType(a, 'error').length === 1)
      expect(ofType(a, 'error')[0]).toMatchObject({ type: 'error', code })
    })
  }

  it('accepts 128 bytes, non-ASCII names and a name that only contains the prefix later', async () => {
    const rooms = manager()
    await added(rooms, 1)
    for (const name of ['r'.repeat(128), 'é'.repeat(64), 'café ☕', 'a$b']) {
      expect(rooms.joinRoom('c0', name)).toBe(true)
    }
    expect(rooms.getClientRooms('c0')).toHaveLength(4)
  })

  it("reservedPrefix '' reserves nothing; maxRoomNameBytes moves the cap", async () => {
    const rooms = manager({ reservedPrefix: '', maxRoomNameBytes: 4 })
    await added(rooms, 1)
    expect(rooms.joinRoom('c0', '$abc')).toBe(true)
    expect(rooms.joinRoom('c0', '$abcd')).toBe(false)
  })
})

describe('join and leave', () => {
  it('a second join is not a change: one membership, one user_joined', async () => {
    const rooms = manager()
    const list = await added(rooms, 2)
    rooms.joinRoom('c0', 'r')
    expect(rooms.joinRoom('c1', 'r')).toBe(true)
    expect(rooms.joinRoom('c1', 'r')).toBe(true)
    expect(await rooms.join('c1', 'r')).toBe(true)
    await settle(rooms, list)
    expect(ofType(list[0], 'user_joined')).toHaveLength(1)
    expect(ofType(list[0], 'user_joined')[0]).toEqual({
      type: 'user_joined',
      connectionId: 'c1',
      room: 'r',
      timestamp: expect.any(Number),
    })
    expect(ofType(list[1], 'user_joined')).toHaveLength(0)
    expect(rooms.getRoomMembers('r').map((m) => m.connectionId)).toEqual(['c0', 'c1'])
    expect(rooms.stats.members).toBe(2)
  })

  it('leaving a room one is not in, or an unknown room, is a no-op with no user_left', async () => {
    const rooms = manager()
    const list = await added(rooms, 2)
    rooms.joinRoom('c0', 'r')
    expect(rooms.leaveRoom('c1', 'r')).toBe(false)
    expect(rooms.leaveRoom('c1', 'nowhere')).toBe(false)
    expect(rooms.leaveRoom('nobody', 'r')).toBe(false)
    await settle(rooms, list)
    expect(ofType(list[0], 'user_left')).toHaveLength(0)
    expect(rooms.stats).toMatchObject({ rooms: 1, members: 1 })
  })

  it('a leave sends one user_left to the rest; the last leave deletes the room', async () => {
    const rooms = manager()
    const list = await added(rooms, 2)
    rooms.joinRoom('c0', 'r')
    rooms.joinRoom('c1', 'r')
    expect(rooms.leaveRoom('c1', 'r')).toBe(true)
    expect(rooms.leaveRoom('c1', 'r')).toBe(false)
    await settle(rooms, list)
    expect(ofType(list[0], 'user_left')).toEqual([
      { type: 'user_left', connectionId: 'c1', room: 'r', timestamp: expect.any(Number) },
    ])
    expect(rooms.leaveRoom('c0', 'r')).toBe(true)
    expect(rooms.stats.rooms).toBe(0)
    expect(rooms.getRoomMembers('r')).toEqual([])
  })

  it('unknown clients cannot join; a client can be added once', async () => {
    const rooms = manager()
    const [a] = await added(rooms, 1)
    expect(rooms.joinRoom('ghost', 'r')).toBe(false)
    expect(await rooms.join('ghost', 'r')).toBe(false)
    expect(rooms.addClient('c0', a.server)).toBe(false)
    expect(rooms.stats.rooms).toBe(0)
  })
})

describe('disconnect', () => {
  it('a disconnect in several rooms sends user_left in each and deletes rooms left empty', async () => {
    const rooms = manager()
    const list = await added(rooms, 3)
    for (const room of ['a', 'b', 'c']) rooms.joinRoom('c0', room)
    rooms.joinRoom('c1', 'a')
    rooms.joinRoom('c2', 'b')
    list[0].socket.destroy()
    await until(() => rooms.stats.clients === 2)
    await settle(rooms, list.slice(1))
    expect(ofType(list[1], 'user_left')).toMatchObject([{ connectionId: 'c0', room: 'a' }])
    expect(ofType(list[2], 'user_left')).toMatchObject([{ connectionId: 'c0', room: 'b' }])
    expect(rooms.stats).toMatchObject({ rooms: 2, members: 2 })
    expect(rooms.getRoomMembers('c')).toEqual([])
    expect(rooms.getClientRooms('c0')).toEqual([])
  })

  it('removeClient does the same, once', async () => {
    const rooms = manager()
    const list = await added(rooms, 2)
    rooms.joinRoom('c0', 'r')
    rooms.joinRoom('c1', 'r')
    expect(rooms.removeClient('c1')).toBe(true)
    expect(rooms.removeClient('c1')).toBe(false)
    list[1].socket.destroy()
    await settle(rooms, [list[0]])
    expect(ofType(list[0], 'user_left')).toHaveLength(1)
  })

  it('a join whose authorization resolves after the socket closed leaves no ghost', async () => {
    let release: (value: boolean) => void = () => {}
    const rooms = manager({
      authorize: () => new Promise<boolean>((resolve) => (release = resolve)),
    })
    await added(rooms, 1)
    const joining = rooms.join('c0', 'r')
    rooms.getClient('c0')?.socket.destroy()
    await until(() => rooms.stats.clients === 0)
    release(true)
    expect(await joining).toBe(false)
    expect(rooms.stats).toMatchObject({ rooms: 0, members: 0 })
    expect(rooms.getRoomMembers('r')).toEqual([])
  })

  it('a client whose socket is already destroyed is not added', async () => {
    const rooms = manager()
    const [a] = await peers(1)
    a.server.destroy()
    expect(rooms.addClient('x', a.server)).toBe(false)
    expect(rooms.joinRoom('x', 'r')).toBe(false)
  })
})

describe('authorize', () => {
  it('a false answer, a throw or a rejection refuses with ERR_JOIN_REFUSED', async () => {
    const rooms = manager({
      authorize: (id, room) => {
        if (room === 'throws') throw new Error('no')
        if (room === 'rejects') return Promise.reject(new Error('no'))
        return room !== 'secret' && id === 'c0'
      },
    })
    const codes: string[] = []
    rooms.on('refused', ({ error }) => codes.push(error.code))
    await added(rooms, 2)
    expect(rooms.joinRoom('c0', 'open')).toBe(true)
    expect(rooms.joinRoom('c1', 'open')).toBe(false)
    expect(rooms.joinRoom('c0', 'secret')).toBe(false)
    expect(rooms.joinRoom('c0', 'throws')).toBe(false)
    expect(await rooms.join('c0', 'rejects')).toBe(false)
    expect(codes).toEqual(Array(4).fill(RoomsErrorCode.JOIN_REFUSED))
    expect(rooms.getClientRooms('c0')).toEqual(['open'])
  })

  it('joinRoom with an asynchronous hook is a usage error; join() awaits it', async () => {
    const rooms = manager({ authorize: async (_id, room) => room === 'ok' })
    await added(rooms, 1)
    expect(() => rooms.joinRoom('c0', 'ok')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    )
    expect(rooms.getClientRooms('c0')).toEqual([])
    expect(await rooms.join('c0', 'ok')).toBe(true)
    expect(await rooms.join('c0', 'no')).toBe(false)
    expect(rooms.getClientRooms('c0')).toEqual(['ok'])
  })

  it('the hook sees the metadata given to addClient', async () => {
    const rooms = manager({
      authorize: (_id, _room, metadata) => (metadata as { n: number }).n === 1,
    })
    await added(rooms, 2)
    expect(rooms.joinRoom('c0', 'r')).toBe(false)
    expect(rooms.joinRoom('c1', 'r')).toBe(true)
  })
})

describe('limits', () => {
  it('rooms per client: the one over the limit is refused with ERR_TOO_MANY_ROOMS', async () => {
    const rooms = manager({ maxRoomsPerClient: 2 })
    const codes: string[] = []
    rooms.on('refused', ({ error }) => codes.push(error.code))
    await added(rooms, 1)
    expect(rooms.joinRoom('c0', 'a')).toBe(true)
    expect(rooms.joinRoom('c0', 'b')).toBe(true)
    expect(rooms.joinRoom('c0', 'c')).toBe(false)
    expect(rooms.joinRoom('c0', 'a')).toBe(true) // already in: not a new room
    expect(codes).toEqual([RoomsErrorCode.TOO_MANY_ROOMS])
    expect(rooms.stats).toMatchObject({ rooms: 2, members: 2 })
  })

  it('members per room: the one over the limit is refused with ERR_ROOM_FULL, and no one is told', async () => {
    const rooms = manager({ maxMembersPerRoom: 2 })
    const codes: string[] = []
    rooms.on('refused', ({ error }) => codes.push(error.code))
    const list = await added(rooms, 3)
    rooms.joinRoom('c0', 'r')
    rooms.joinRoom('c1', 'r')
    expect(rooms.joinRoom('c2', 'r')).toBe(false)
    await settle(rooms, list)
    expect(codes).toEqual([RoomsErrorCode.ROOM_FULL])
    expect(ofType(list[0], 'user_joined')).toHaveLength(1)
    expect(ofType(list[2], 'error')).toMatchObject([{ code: RoomsErrorCode.ROOM_FULL, room: 'r' }])
    rooms.leaveRoom('c1', 'r')
    expect(rooms.joinRoom('c2', 'r')).toBe(true)
  })

  it('a broadcast over maxMessageBytes is refused before anything is queued', async () => {
    const rooms = manager({ maxMessageBytes: 64 })
    const list = await added(rooms, 2)
    rooms.joinRoom('c0', 'r')
    rooms.joinRoom('c1', 'r')
    const codes: string[] = []
    rooms.on('refused', ({ error }) => codes.push(error.code))
    const before = rooms.stats.deliveries
    expect(rooms.broadcastToRoom('r', { text: 'x'.repeat(100) }, 'c0')).toBe(0)
    expect(rooms.stats.deliveries).toBe(before + 1) // the error reply to the sender only
    expect(codes).toEqual([RoomsErrorCode.MESSAGE_REFUSED])
    expect(rooms.broadcastToRoom('r', { text: 'short' }, 'c0')).toBe(1)
    await settle(rooms, list)
    expect(list[1].messages.filter((m) => 'text' in m)).toEqual([{ text: 'short' }])
    expect(ofType(list[0], 'error')).toMatchObject([{ code: RoomsErrorCode.MESSAGE_REFUSED }])
  })

  it('a message the encoder refuses (a BigInt) is ERR_MESSAGE_REFUSED with the cause', async () => {
    const rooms = manager()
    await added(rooms, 2)
    rooms.joinRoom('c0', 'r')
    rooms.joinRoom('c1', 'r')
    const errors: Array<{ code: string; cause?: unknown }> = []
    rooms.on('refused', ({ error }) => errors.push(error))
    expect(rooms.broadcastToRoom('r', { n: 1n })).toBe(0)
    expect(errors[0]?.code).toBe(RoomsErrorCode.MESSAGE_REFUSED)
    expect(errors[0]?.cause).toMatchObject({ code: 'ERR_UNSERIALIZABLE' })
  })
})

describe('broadcast', () => {
  it('the sender never gets its own broadcast; everyone else gets it once', async () => {
    const rooms = manager()
    const list = await added(rooms, 4)
    for (let i = 0; i < 4; i++) rooms.joinRoom(`c${i}`, 'r')
    expect(rooms.broadcastToRoom('r', { type: 'say', from: 'c2' }, 'c2')).toBe(3)
    await settle(rooms, list)
    list.forEach((peer, i) => {
      expect(ofType(peer, 'say')).toHaveLength(i === 2 ? 0 : 1)
    })
  })

  it('a broadcast to an empty or unknown room delivers nothing and creates no room', async () => {
    const rooms = manager()
    const list = await added(rooms, 1)
    expect(rooms.broadcastToRoom('nowhere', { type: 'say' })).toBe(0)
    expect(rooms.broadcastToRoom('nowhere', { type: 'say' }, 'c0')).toBe(0)
    rooms.joinRoom('c0', 'gone')
    rooms.leaveRoom('c0', 'gone')
    expect(rooms.broadcastToRoom('gone', { type: 'say' })).toBe(0)
    await settle(rooms, list)
    expect(rooms.stats.rooms).toBe(0)
    expect(list[0].messages).toEqual([])
  })

  it("from a client not in the room: delivered by default (the verb docs' behaviour)", async () => {
    const rooms = manager()
    const list = await added(rooms, 2)
    rooms.joinRoom('c0', 'r')
    expect(rooms.broadcastToRoom('r', { type: 'say' }, 'c1')).toBe(1)
    await settle(rooms, list)
    expect(ofType(list[0], 'say')).toHaveLength(1)
  })

  it("from a client not in the room with nonMemberBroadcast: 'refuse': ERR_NOT_IN_ROOM, nothing delivered", async () => {
    const rooms = manager({ nonMemberBroadcast: 'refuse' })
    const list = await added(rooms, 2)
    rooms.joinRoom('c0', 'r')
    expect(rooms.broadcastToRoom('r', { type: 'say' }, 'c1')).toBe(0)
    // A server broadcast (no sender) is still allowed.
    expect(rooms.broadcastToRoom('r', { type: 'announce' })).toBe(1)
    await settle(rooms, list)
    expect(ofType(list[0], 'say')).toHaveLength(0)
    expect(ofType(list[0], 'announce')).toHaveLength(1)
    expect(ofType(list[1], 'error')).toMatchObject([
      { code: RoomsErrorCode.NOT_IN_ROOM, room: 'r' },
    ])
  })

  it('replyErrors: false reports refusals only as events', async () => {
    const rooms = manager({ replyErrors: false })
    const list = await added(rooms, 1)
    expect(rooms.joinRoom('c0', '')).toBe(false)
    await settle(rooms, list)
    expect(list[0].messages).toEqual([])
    expect(rooms.stats.refused).toBe(1)
  })

  it('1,000 messages from one sender arrive in order at every member, with send() in between', async () => {
    const rooms = manager()
    const list = await added(rooms, 3)
    for (let i = 0; i < 3; i++) rooms.joinRoom(`c${i}`, 'r')
    await settle(rooms, list)
    for (const peer of list) peer.messages.length = 0
    for (let i = 0; i < 1000; i++) {
      rooms.broadcastToRoom('r', { type: 'n', i }, 'c0')
      if (i % 100 === 0) rooms.send('c1', { type: 'n', i, direct: true })
      // Spread the messages over several turns, some many per turn.
      if (i % 250 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    await settle(rooms, list)
    expect(ofType(list[2], 'n').map((m) => m.i)).toEqual(Array.from({ length: 1000 }, (_, i) => i))
    const c1 = ofType(list[1], 'n')
    expect(c1).toHaveLength(1010)
    expect(c1.map((m) => m.i)).toEqual(
      [...c1.map((m) => m.i)].sort((x, y) => (x as number) - (y as number)),
    )
  })

  it('many broadcasts in one turn reach each member in one socket write', async () => {
    const rooms = manager()
    const list = await added(rooms, 3)
    for (let i = 0; i < 3; i++) rooms.joinRoom(`c${i}`, 'r')
    await settle(rooms, list)
    const writes = [0, 0, 0]
    list.forEach((peer, i) => {
      const write = peer.server.write.bind(peer.server)
      peer.server.write = ((...args: Parameters<typeof write>) => {
        writes[i] = (writes[i] ?? 0) + 1
        return write(...args)
      }) as typeof peer.server.write
    })
    for (let i = 0; i < 50; i++)
      rooms.broadcastToRoom('r', { type: 'n', i, from: i % 3 }, `c${i % 3}`)
    await until(() => ofType(list[0], 'n').length === 33)
    expect(writes).toEqual([1, 1, 1])
    expect(ofType(list[0], 'n').map((m) => m.i)).toEqual(
      Array.from({ length: 50 }, (_, i) => i).filter((i) => i % 3 !== 0),
    )
    expect(rooms.stats.deliveries).toBeGreaterThanOrEqual(100)
  })
})

describe('the delivered event', () => {
  it('reports every message queued, by the bytes sent, adding up to what the peers received', async () => {
    // Types are recovered from the encoder's own output, as a server counting by type would.
    const types = new WeakMap<Uint8Array, string>()
    const { encodeMessage } = await import('@verb-tcp/json-frames')
    const rooms = manager({
      encoder: (message) => {
        const bytes = encodeMessage(message)
        types.set(bytes, (message as { type?: string }).type ?? 'none')
        return bytes
      },
      nonMemberBroadcast: 'refuse',
    })
    const counted = new Map<string, number>()
    rooms.on('delivered', (bytes, count) => {
      const type = types.get(bytes) ?? 'unknown'
      counted.set(type, (counted.get(type) ?? 0) + count)
    })
    const list = await added(rooms, 3)
    rooms.joinRoom('c0', 'r') // nobody to tell
    rooms.joinRoom('c1', 'r') // user_joined to c0
    rooms.joinRoom('c2', 'r') // user_joined to c0 and c1
    rooms.send('c2', { type: 'joined', room: 'r' })
    rooms.broadcastToRoom('r', { type: 'room_message', data: 1 }, 'c0') // to c1 and c2
    rooms.broadcastToRoom('elsewhere', { type: 'room_message', data: 2 }, 'c0') // refused: error to c0
    rooms.leaveRoom('c2', 'r') // user_left to c0 and c1
    const deliveries = rooms.stats.deliveries
    await settle(rooms, list) // its marks are sent (and counted) too
    counted.delete('mark')
    const received = new Map<string, number>()
    for (const peer of list)
      for (const m of peer.messages)
        received.set(m.type as string, (received.get(m.type as string) ?? 0) + 1)
    expect(Object.fromEntries(counted)).toEqual({
      user_joined: 3,
      joined: 1,
      room_message: 2,
      error: 1,
      user_left: 2,
    })
    expect(Object.fromEntries(counted)).toEqual(Object.fromEntries(received))
    expect([...counted.values()].reduce((a, b) => a + b)).toBe(deliveries)
  })
})
