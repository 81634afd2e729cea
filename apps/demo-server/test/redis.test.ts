import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
// rooms-redis's own helper: a private redis-server on a free loopback port, no persistence.
import { RedisServer, skipWithoutRedis } from '../../../packages/rooms-redis/test/redis-server.ts'
import { defer } from './helpers.ts'
import { expectOnceInOrder, MessageClient, type Msg } from './message-client.ts'
import { CLI, startServer } from './process.ts'

const built = existsSync(CLI)

/** Sends until `match` arrives (delivery across servers is at most once while subscriptions settle). */
async function until(
  send: () => void,
  client: MessageClient,
  match: (m: Msg) => boolean,
): Promise<Msg> {
  for (let attempt = 0; attempt < 50; attempt++) {
    send()
    const got = await Promise.race([
      client.next(match),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 200)),
    ])
    if (got) return got
  }
  throw new Error('never arrived')
}

/**
 * Ada and Bob, connected to different processes, join one room (Bob hears Ada's join across
 * Redis), then a room message and a broadcast from Ada reach Bob and a private message from Bob
 * reaches Ada.
 */
type Joined = Awaited<ReturnType<typeof MessageClient.join>>

async function crossOnce(
  ada: Joined,
  bob: Joined,
  texts: { roomMessage: string; privateMessage: string },
): Promise<void> {
  bob.send({ type: 'join_room', room: 'lobby' })
  await bob.next((m) => m.type === 'joined')
  ada.send({ type: 'join_room', room: 'lobby' })
  await ada.next((m) => m.type === 'joined')
  await bob.next((m) => m.type === 'user_joined' && m.connectionId === ada.id)

  const heard = await until(
    () => ada.send({ type: 'room_message', room: 'lobby', data: texts.roomMessage }),
    bob,
    (m) => m.type === 'room_message',
  )
  expect(heard).toMatchObject({ room: 'lobby', from: ada.id, data: texts.roomMessage })
  const secret = await until(
    () => bob.send({ type: 'private', target: ada.id, data: texts.privateMessage }),
    ada,
    (m) => m.type === 'private',
  )
  expect(secret).toMatchObject({ from: bob.id, data: texts.privateMessage })
  const all = await until(
    () => ada.send({ type: 'broadcast', data: 'everyone' }),
    bob,
    (m) => m.type === 'broadcast',
  )
  expect(all).toMatchObject({ from: ada.id, data: 'everyone' })
}

describe.skipIf(!built)('two servers on one Redis (--redis)', () => {
  skipWithoutRedis()

  it('a room broadcast, a broadcast and a private message cross between them', async () => {
    const redis = await RedisServer.start()
    defer(() => redis.stop())
    const a = await startServer(['--redis', redis.url])
    const b = await startServer(['--redis', redis.url])
    const ada = await MessageClient.join(a.ports.message)
    const bob = await MessageClient.join(b.ports.message)
    expect(ada.id).not.toBe(bob.id)

    await crossOnce(ada, bob, {
      roomMessage: 'hi from server A',
      privateMessage: 'psst from server B',
    })
    // Nobody got their own messages back across Redis.
    expect(ada.received.filter((m) => m.from === ada.id)).toEqual([])
  }, 60_000)

  it('--workers 2 with --redis: a room message, a broadcast and a private message cross between the workers', async () => {
    const redis = await RedisServer.start()
    defer(() => redis.stop())
    const { run, ports } = await startServer(['--workers', '2', '--redis', redis.url])
    expect(run.lines.filter((l) => l.msg === 'listening')).toEqual([
      expect.objectContaining({ workers: 2 }),
    ])
    // The primary hands connections to the workers in turn: two clients, two workers.
    const ada = await MessageClient.join(ports.message)
    const bob = await MessageClient.join(ports.message)
    const worker = (id: string) => id.match(/-w(\d+)-/)?.[1]
    expect(worker(ada.id)).toBeDefined()
    expect(worker(bob.id)).toBeDefined()
    expect(worker(ada.id)).not.toBe(worker(bob.id))

    await crossOnce(ada, bob, {
      roomMessage: 'hi from one worker',
      privateMessage: 'psst from the other',
    })

    // Now that the subscriptions are settled: each message exactly once, in order. Messages
    // from one sender reach Redis, and the other worker, in the order they were sent, so once
    // the last has arrived a duplicate of any earlier one would have too.
    await expectOnceInOrder(ada, bob)

    run.child.kill('SIGTERM')
    for (const client of [ada, bob]) await client.next((m) => m.type === 'server_shutdown')
    expect((await run.exited).code).toBe(0)
    // Each worker had Redis, and nothing went wrong on the way (no warning, no dead worker).
    expect(run.lines.filter((l) => l.msg === 'rooms on redis')).toHaveLength(2)
    expect(run.lines.filter((l) => (l.level as number) >= 40)).toEqual([])
  }, 60_000)
})
