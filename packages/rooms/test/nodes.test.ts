// Two managers on one InProcessBus behave as two nodes: what an adapter must make true.
import { until } from '@verb-tcp/core/testing'
import { afterEach, expect, it } from 'vitest'
import { InProcessAdapter, InProcessBus } from '../src/index.ts'
import { closeEverything, manager, ofType, peers } from './helpers.ts'

afterEach(closeEverything)

async function twoNodes() {
  const bus = new InProcessBus()
  const a = manager({ adapter: new InProcessAdapter({ bus, nodeId: 'A' }) })
  const b = manager({ adapter: new InProcessAdapter({ bus, nodeId: 'B' }) })
  const [a1, a2, b1] = await peers(3)
  a.addClient('a1', a1.server)
  a.addClient('a2', a2.server)
  b.addClient('b1', b1.server)
  return { a, b, a1: a1, a2: a2, b1: b1 }
}

it("a broadcast reaches the other node's members once, never the sender; notices cross nodes", async () => {
  const { a, b, a1, a2, b1 } = await twoNodes()
  a.joinRoom('a1', 'r')
  b.joinRoom('b1', 'r')
  await until(() => ofType(a1, 'user_joined').length === 1)
  expect(ofType(a1, 'user_joined')[0]).toMatchObject({ connectionId: 'b1', room: 'r' })
  a.joinRoom('a2', 'r')
  await until(() => ofType(b1, 'user_joined').length === 1)
  b.broadcastToRoom('r', { type: 'say', from: 'b1' }, 'b1')
  a.broadcastToRoom('r', { type: 'say', from: 'a1' }, 'a1')
  await until(() => ofType(a2, 'say').length === 2 && ofType(b1, 'say').length === 1)
  expect(ofType(a1, 'say')).toEqual([{ type: 'say', from: 'b1' }])
  expect(ofType(b1, 'say')).toEqual([{ type: 'say', from: 'a1' }])
  const { members, complete } = await b.members('r')
  expect(complete).toBe(true)
  expect(members.map((m) => `${m.nodeId}/${m.connectionId}`).sort()).toEqual([
    'A/a1',
    'A/a2',
    'B/b1',
  ])
})

it("closing a node sends user_left for its members to the other node's members", async () => {
  const { a, b, b1 } = await twoNodes()
  a.joinRoom('a1', 'r')
  a.joinRoom('a2', 's')
  b.joinRoom('b1', 'r')
  b.joinRoom('b1', 's')
  await a.close()
  await until(() => ofType(b1, 'user_left').length === 2)
  expect(
    ofType(b1, 'user_left')
      .map((m) => `${m.connectionId}:${m.room}`)
      .sort(),
  ).toEqual(['a1:r', 'a2:s'])
  expect((await b.members('r')).members.map((m) => m.connectionId)).toEqual(['b1'])
})

it('the adapter subscribes at a room’s first local member and unsubscribes at its last, disconnects included', async () => {
  const calls: string[] = []
  class Recording extends InProcessAdapter {
    override subscribe(room: string): void {
      calls.push(`+${room}`)
      super.subscribe(room)
    }
    override unsubscribe(room: string): void {
      calls.push(`-${room}`)
      super.unsubscribe(room)
    }
  }
  const rooms = manager({ adapter: new Recording() })
  const [x, y] = await peers(2)
  rooms.addClient('x', x.server)
  rooms.addClient('y', y.server)
  rooms.joinRoom('x', 'a')
  rooms.joinRoom('y', 'a')
  rooms.joinRoom('x', 'b')
  rooms.joinRoom('x', 'c')
  rooms.leaveRoom('x', 'c')
  expect(calls).toEqual(['+a', '+b', '+c', '-c'])
  x.socket.destroy()
  await until(() => rooms.stats.clients === 1)
  expect(calls).toEqual(['+a', '+b', '+c', '-c', '-b'])
  rooms.removeClient('y')
  expect(calls).toEqual(['+a', '+b', '+c', '-c', '-b', '-a'])
  expect(rooms.stats.rooms).toBe(0)
})
