import { closeAll, until } from '@verb-tcp/core/testing'
import { afterEach, expect, it } from 'vitest'
import { TCPRoomManager } from '../src/index.ts'
import { peers } from './helpers.ts'

afterEach(closeAll)

it('broadcasts to the other members of a room over loopback', async () => {
  const rooms = new TCPRoomManager()
  const [a, b] = await peers(2)
  rooms.addClient('a', a!.server)
  rooms.addClient('b', b!.server)
  expect(rooms.joinRoom('a', 'lobby')).toBe(true)
  expect(rooms.joinRoom('b', 'lobby')).toBe(true)
  expect(rooms.broadcastToRoom('lobby', { type: 'say', text: 'hi' }, 'b')).toBe(1)
  await until(() => a!.messages.length === 2)
  expect(a!.messages[0]).toMatchObject({ type: 'user_joined', connectionId: 'b', room: 'lobby' })
  expect(a!.messages[1]).toEqual({ type: 'say', text: 'hi' })
  await rooms.close()
})
