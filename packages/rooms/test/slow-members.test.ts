// A member that never reads must not grow the server's memory or delay the others.
import { until } from '@verb-tcp/core/testing'
import { afterEach, expect, it } from 'vitest'
import { added, closeEverything, manager, ofType } from './helpers.ts'

afterEach(closeEverything)

const CAP = 64 * 1024
const PAYLOAD = 'x'.repeat(16 * 1024)

async function floodUntilSlow(rooms: ReturnType<typeof manager>, max = 4000): Promise<number> {
  let sent = 0
  // Bounded: loopback buffers take a few MB before the slow member's socket queue grows.
  while (rooms.stats.drops === 0 && sent < max) {
    rooms.broadcastToRoom('r', { type: 'big', i: sent, payload: PAYLOAD })
    sent++
    await new Promise((resolve) => setImmediate(resolve))
  }
  return sent
}

it("'drop': the member that never reads is skipped at the cap; the others get every message", async () => {
  const rooms = manager({ maxBufferedBytes: CAP })
  const slow: string[] = []
  rooms.on('slow', ({ connectionId, action, buffered }) => {
    slow.push(`${connectionId}:${action}`)
    expect(buffered).toBeLessThanOrEqual(CAP)
  })
  const list = await added(rooms, 3)
  for (let i = 0; i < 3; i++) rooms.joinRoom(`c${i}`, 'r')
  list[0].socket.pause()
  const sent = await floodUntilSlow(rooms)
  expect(rooms.stats.drops).toBeGreaterThan(0)
  // A few more after the first drop: still dropped for c0, still delivered to the others.
  for (let i = 0; i < 20; i++) {
    rooms.broadcastToRoom('r', { type: 'big', i: sent + i, payload: PAYLOAD })
    expect(list[0].server.writableLength).toBeLessThanOrEqual(CAP)
    await new Promise((resolve) => setImmediate(resolve))
  }
  for (const peer of list.slice(1)) {
    await until(() => ofType(peer, 'big').length === sent + 20)
    expect(ofType(peer, 'big').map((m) => m.i)).toEqual(
      Array.from({ length: sent + 20 }, (_, i) => i),
    )
  }
  expect(new Set(slow)).toEqual(new Set(['c0:drop']))
  expect(rooms.stats.slowClosed).toBe(0)
  expect(rooms.getClientRooms('c0')).toEqual(['r'])
})

it("'close': the member that never reads is destroyed at the cap and the others hear user_left", async () => {
  const rooms = manager({ maxBufferedBytes: CAP, slowMember: 'close' })
  const list = await added(rooms, 3)
  for (let i = 0; i < 3; i++) rooms.joinRoom(`c${i}`, 'r')
  list[0].socket.pause()
  const sent = await floodUntilSlow(rooms)
  expect(rooms.stats.slowClosed).toBe(1)
  expect(list[0].server.destroyed).toBe(true)
  expect(rooms.getRoomMembers('r').map((m) => m.connectionId)).toEqual(['c1', 'c2'])
  for (const peer of list.slice(1)) {
    await until(() => ofType(peer, 'user_left').length === 1)
    expect(ofType(peer, 'big')).toHaveLength(sent)
    expect(ofType(peer, 'user_left')[0]).toMatchObject({ connectionId: 'c0', room: 'r' })
  }
})

it('the cap also counts what is queued in this turn: a burst past it is cut, in order', async () => {
  const rooms = manager({ maxBufferedBytes: 1000 })
  const list = await added(rooms, 2)
  rooms.joinRoom('c0', 'r')
  rooms.joinRoom('c1', 'r')
  await until(() => ofType(list[0], 'user_joined').length === 1)
  const message = { type: 'burst', pad: 'x'.repeat(70) } // 100 bytes framed
  let queued = 0
  for (let i = 0; i < 20; i++) queued += rooms.broadcastToRoom('r', { ...message, i }, 'c1')
  expect(queued).toBe(9)
  expect(rooms.stats.drops).toBe(11)
  await until(() => ofType(list[0], 'burst').length === 9)
  expect(ofType(list[0], 'burst').map((m) => m.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8])
})
