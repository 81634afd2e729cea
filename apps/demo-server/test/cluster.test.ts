import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { expectOnceInOrder, MessageClient } from './message-client.ts'
import { CLI, startServer } from './process.ts'

const built = existsSync(CLI)
const workerOf = (id: string) => id.split('-')[0]

describe.skipIf(!built)('--workers without --redis: rooms through the primary', () => {
  it('a room message, a broadcast and a private message cross between the workers, each once and in order, across a reload too', async () => {
    const { run, ports } = await startServer(['--workers', '2', '--grace-period', '5000'])
    // The primary hands connections to the workers in turn: two clients, two workers.
    const ada = await MessageClient.join(ports.message)
    const bob = await MessageClient.join(ports.message)
    expect(workerOf(ada.id)).not.toBe(workerOf(bob.id))

    bob.send({ type: 'join_room', room: 'lobby' })
    await bob.next((m) => m.type === 'joined')
    ada.send({ type: 'join_room', room: 'lobby' })
    await ada.next((m) => m.type === 'joined')
    expect(await bob.next((m) => m.type === 'user_joined')).toMatchObject({
      room: 'lobby',
      connectionId: ada.id,
    })
    await expectOnceInOrder(ada, bob)
    bob.send({ type: 'private', target: ada.id, data: 'psst' })
    expect(await ada.next((m) => m.type === 'private')).toMatchObject({
      from: bob.id,
      data: 'psst',
    })

    // A reload: the old clients get the notice; new ones, on the new workers, share rooms too.
    run.child.kill('SIGHUP')
    for (const client of [ada, bob]) await client.next((m) => m.type === 'server_shutdown')
    await run.line((l) => l.msg === 'reload: new workers listening, old ones draining')
    const carol = await MessageClient.join(ports.message)
    const dan = await MessageClient.join(ports.message)
    expect(['w3', 'w4']).toContain(workerOf(carol.id))
    expect(workerOf(carol.id)).not.toBe(workerOf(dan.id))
    dan.send({ type: 'join_room', room: 'lobby' })
    await dan.next((m) => m.type === 'joined')
    carol.send({ type: 'join_room', room: 'lobby' })
    await carol.next((m) => m.type === 'joined')
    await dan.next((m) => m.type === 'user_joined' && m.connectionId === carol.id)
    carol.send({ type: 'room_message', room: 'lobby', data: 'after the reload' })
    expect(await dan.next((m) => m.type === 'room_message')).toMatchObject({
      from: carol.id,
      data: 'after the reload',
    })
    expect(run.lines.filter((l) => (l.level as number) >= 40)).toEqual([])
  }, 60_000)
})
