// Model-based: after any sequence of adds, joins, leaves and disconnects, the manager's state
// and the notices every client received match a plain model of sets.
import { Writable } from 'node:stream'
import type { TCPSocket } from '@verb-tcp/core'
import { MessageDecoder } from '@verb-tcp/json-frames'
import fc from 'fast-check'
import { expect, it } from 'vitest'
import { TCPRoomManager } from '../src/index.ts'

const CLIENTS = ['a', 'b', 'c', 'd']
const ROOMS = ['r1', 'r2', 'r3']

type Command =
  | { op: 'join' | 'leave'; client: string; room: string }
  | { op: 'joinAsync'; client: string; room: string; allow: boolean }
  | { op: 'disconnect' | 'remove' | 'add'; client: string }

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    op: fc.constantFrom('join' as const, 'leave' as const),
    client: fc.constantFrom(...CLIENTS),
    room: fc.constantFrom(...ROOMS),
  }),
  fc.record({
    op: fc.constant('joinAsync' as const),
    client: fc.constantFrom(...CLIENTS),
    room: fc.constantFrom(...ROOMS),
    allow: fc.boolean(),
  }),
  fc.record({
    op: fc.constantFrom('disconnect' as const, 'remove' as const, 'add' as const),
    client: fc.constantFrom(...CLIENTS),
  }),
)

/** An in-memory socket that records what the manager wrote, decoded. */
function fakeSocket(received: string[]): TCPSocket {
  const decoder = new MessageDecoder<{ type: string; connectionId: string; room: string }>()
  const sink = {
    frame: (m: { type: string; connectionId: string; room: string }) =>
      void received.push(`${m.type}:${m.connectionId}:${m.room}`),
    error: (error: Error) => void received.push(`decode error ${error.message}`),
  }
  return new Writable({
    write(chunk, _encoding, callback) {
      decoder.push(chunk, sink)
      callback()
    },
  }) as unknown as TCPSocket
}

const turn = () => new Promise((resolve) => setImmediate(resolve))

it('membership and notices follow the model for any command sequence', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(command, { maxLength: 40 }), async (commands) => {
      // Plain room names are authorized at once (joinRoom); names ending in '?' or '!' by an
      // asynchronous hook (join), which allows '?' and refuses '!'.
      const rooms = new TCPRoomManager({
        authorize: (_id, room) => {
          if (!/[?!]$/.test(room)) return true
          return turn().then(() => room.endsWith('?'))
        },
      })
      const model = new Map<string, Set<string>>() // client -> rooms
      const expected = new Map<string, string[]>() // client -> notices it should have received
      const received = new Map<string, string[]>()
      const sockets = new Map<string, TCPSocket>()
      const add = (client: string) => {
        const log: string[] = []
        const socket = fakeSocket(log)
        expect(rooms.addClient(client, socket)).toBe(true)
        sockets.set(client, socket)
        received.set(client, log)
        expected.set(client, [])
        model.set(client, new Set())
      }
      const others = (room: string, except: string) =>
        [...model].filter(([id, set]) => id !== except && set.has(room)).map(([id]) => id)
      const modelJoin = (client: string, room: string) => {
        const set = model.get(client)
        if (!set || set.has(room)) return
        for (const id of others(room, client))
          expected.get(id)?.push(`user_joined:${client}:${room}`)
        set.add(room)
      }
      const modelLeave = (client: string, room: string) => {
        const set = model.get(client)
        if (!set?.delete(room)) return
        for (const id of others(room, client)) expected.get(id)?.push(`user_left:${client}:${room}`)
      }
      const modelGone = (client: string) => {
        for (const room of [...(model.get(client) ?? [])]) modelLeave(client, room)
        model.delete(client)
      }
      for (const client of CLIENTS) add(client)

      for (const cmd of commands) {
        switch (cmd.op) {
          case 'join':
            expect(rooms.joinRoom(cmd.client, cmd.room)).toBe(model.has(cmd.client))
            modelJoin(cmd.client, cmd.room)
            break
          case 'joinAsync': {
            const room = `${cmd.room}${cmd.allow ? '?' : '!'}`
            const joined = await rooms.join(cmd.client, room)
            expect(joined).toBe(cmd.allow && model.has(cmd.client))
            if (joined) modelJoin(cmd.client, room)
            break
          }
          case 'leave':
            rooms.leaveRoom(cmd.client, cmd.room)
            modelLeave(cmd.client, cmd.room)
            break
          case 'remove':
            rooms.removeClient(cmd.client)
            modelGone(cmd.client)
            break
          case 'disconnect': {
            const socket = sockets.get(cmd.client)
            if (model.has(cmd.client) && socket) {
              socket.destroy()
              await turn()
              modelGone(cmd.client)
            }
            break
          }
          case 'add':
            if (!model.has(cmd.client)) {
              rooms.removeClient(cmd.client) // a removed client's socket may still be open
              sockets.get(cmd.client)?.destroy()
              add(cmd.client)
            }
            break
        }
        for (const [client, set] of model) {
          expect(new Set(rooms.getClientRooms(client))).toEqual(set)
        }
        for (const room of ROOMS.flatMap((r) => [r, `${r}?`, `${r}!`])) {
          const members = [...model]
            .filter(([, set]) => set.has(room))
            .map(([id]) => id)
            .sort()
          expect(
            rooms
              .getRoomMembers(room)
              .map((m) => m.connectionId)
              .sort(),
          ).toEqual(members)
        }
        const memberships = [...model.values()].reduce((n, set) => n + set.size, 0)
        const live = new Set([...model.values()].flatMap((set) => [...set]))
        expect(rooms.stats).toMatchObject({
          clients: model.size,
          members: memberships,
          rooms: live.size,
        })
      }
      await turn()
      await turn()
      for (const [client, log] of received) {
        if (!model.has(client)) continue
        expect(log.filter((l) => !l.startsWith('error:'))).toEqual(expected.get(client))
      }
      await rooms.close()
    }),
    { numRuns: 150 },
  )
}, 60_000)

it('concurrent async joins racing a disconnect never leave a ghost', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 5 }),
      fc.integer({ min: 0, max: 5 }),
      async (hookTurns, closeTurns) => {
        const rooms = new TCPRoomManager({
          authorize: async () => {
            for (let i = 0; i < hookTurns; i++) await turn()
            return true
          },
        })
        const socket = fakeSocket([])
        rooms.addClient('x', socket)
        const joins = ROOMS.map((room) => rooms.join('x', room))
        for (let i = 0; i < closeTurns; i++) await turn()
        socket.destroy()
        await Promise.all(joins)
        await turn()
        expect(rooms.stats).toMatchObject({ clients: 0, rooms: 0, members: 0 })
        for (const room of ROOMS) expect(rooms.getRoomMembers(room)).toEqual([])
        await rooms.close()
      },
    ),
    { numRuns: 60 },
  )
})
