// Durable mode on a real redis-server: Redis stopped (and started again empty) in the middle of
// a stream of broadcasts between two nodes, a network blip that keeps the stream, and the
// outbox's limits.
import { afterEach, expect, it } from 'vitest'
import type { RedisAdapterOptions } from '../src/index.ts'
import {
  client,
  closeOpen,
  dieWithWritesUnanswered,
  joinAs,
  member,
  node,
  until,
  within2s,
} from './helpers.ts'
import { RedisServer, useRedis } from './redis-server.ts'

const redis = useRedis()
afterEach(async () => {
  await closeOpen()
  if (!redis.running) await redis.restart() // a test that failed during an outage
})

const slowly = { turns: 100, waits: 3000, interval: 10 }
const durable: RedisAdapterOptions = { delivery: 'durable' }
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function twoNodes(options: RedisAdapterOptions = {}) {
  const prefix = `durable-${Math.random().toString(36).slice(2)}`
  const a = await node(redis.url, { ...durable, prefix, ...options })
  const b = await node(redis.url, { ...durable, prefix, ...options })
  joinAs(a.adapter, a.host, 'r', member('a1'))
  joinAs(b.adapter, b.host, 'r', member('b1'))
  await Promise.all([a.adapter.settled(), b.adapter.settled()])
  return { a, b }
}

const texts = (host: { delivered: { text: string }[] }) => host.delivered.map((d) => d.text)
const series = (name: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${name}${i}`)

it('Redis stopped for 3 s mid-stream and started again empty: 0 lost, 0 duplicated, order kept', async () => {
  const { a, b } = await twoNodes()
  const events: string[] = []
  a.adapter.on('redisDown', (error) => events.push(`down ${error.code}`))
  a.adapter.on('redisUp', () => events.push('up'))
  const send = (i: number) => {
    a.adapter.publish('r', Buffer.from(`a${i}`), { exclude: 'a1' })
    b.adapter.publish('r', Buffer.from(`b${i}`), { exclude: 'b1' })
  }
  // Both nodes broadcast all the time: before, during and after the outage.
  let count = 0
  for (; count < 50; count++) {
    send(count)
    await sleep(count % 3 === 0 ? 5 : 0)
  }
  const stopped = redis.stop()
  const restartAt = Date.now() + 3000
  for (; Date.now() < restartAt && count < 2000; count++) {
    send(count)
    await sleep(10)
  }
  await stopped
  expect(a.adapter.stats.connected).toBe(false)
  await redis.restart()
  for (const end = count + 50; count < end; count++) {
    send(count)
    await sleep(count % 3 === 0 ? 5 : 0)
  }
  // Delivery may resume before the pub/sub side is back: wait for both.
  await until(
    () =>
      a.host.delivered.length >= count &&
      b.host.delivered.length >= count &&
      a.adapter.stats.connected &&
      b.adapter.stats.connected,
    slowly,
  )
  await Promise.all([a.adapter.settled(), b.adapter.settled()])
  expect(texts(b.host)).toEqual(series('a', count))
  expect(texts(a.host)).toEqual(series('b', count))
  expect(b.host.delivered.every((d) => d.exclude === 'a1')).toBe(true)
  expect(events).toEqual(['down ERR_REDIS_UNAVAILABLE', 'up'])
  for (const { adapter } of [a, b]) {
    const stats = adapter.stats
    expect(stats).toMatchObject({ connected: true, outages: 1, dropped: 0, missed: 0, outbox: 0 })
    expect(stats.streamResets).toBe(1)
  }
}, 60_000)

it('a network blip (connections dropped, Redis keeps the stream): 0 lost, 0 duplicated, order kept', async () => {
  const { a, b } = await twoNodes()
  const outside = client(redis.url)
  const count = 200
  for (let i = 0; i < count; i++) {
    a.adapter.publish('r', Buffer.from(`a${i}`), {})
    b.adapter.publish('r', Buffer.from(`b${i}`), {})
    if (i === 100) await outside.call('CLIENT', 'KILL', 'TYPE', 'normal')
    await sleep(i % 5 === 0 ? 5 : 0)
  }
  await until(
    () =>
      a.adapter.stats.connected &&
      b.adapter.stats.connected &&
      a.host.delivered.length >= count &&
      b.host.delivered.length >= count,
    slowly,
  )
  await Promise.all([a.adapter.settled(), b.adapter.settled()])
  expect(texts(b.host)).toEqual(series('a', count))
  expect(texts(a.host)).toEqual(series('b', count))
  for (const { adapter } of [a, b]) {
    expect(adapter.stats).toMatchObject({ dropped: 0, missed: 0, streamResets: 0, outbox: 0 })
  }
}, 60_000)

it('past outboxMaxBytes the oldest unacknowledged envelopes are dropped, counted on both sides', async () => {
  const { a, b } = await twoNodes({ outboxMaxBytes: 2500 })
  a.adapter.publish('r', Buffer.from('first'), {})
  await until(() => b.host.delivered.length === 1, slowly)
  await redis.stop()
  await until(() => !a.adapter.stats.connected, slowly)
  const big = (i: number) => `${i}`.padEnd(1000, '.')
  for (let i = 0; i < 5; i++) {
    a.adapter.publish('r', Buffer.from(big(i)), {})
    await a.adapter.settled() // one envelope per broadcast
  }
  expect(a.adapter.stats.dropped).toBe(3)
  expect(a.adapter.stats.outbox).toBe(2)
  await redis.restart()
  await until(() => b.host.delivered.length === 3, slowly)
  await Promise.all([a.adapter.settled(), b.adapter.settled()])
  expect(texts(b.host)).toEqual(['first', big(3), big(4)])
  // To make room, the outbox let go of the acknowledged envelopes (the join, 'first') uncounted,
  // then of the three oldest unacknowledged ones: dropped on a, missed on b.
  expect(b.adapter.stats).toMatchObject({ missed: 3, duplicates: 0 })
  expect(a.adapter.stats).toMatchObject({ outbox: 0, dropped: 3 })
}, 60_000)

it('join and leave notices ride the stream too, in order with the broadcasts', async () => {
  const { a, b } = await twoNodes()
  await redis.stop()
  await until(() => !a.adapter.stats.connected, slowly)
  joinAs(a.adapter, a.host, 'r', member('a2', { name: 'ann' }))
  a.adapter.publish('r', Buffer.from('hello'), { exclude: 'a2' })
  await redis.restart()
  const joins = () => b.host.joined.map((j) => j.member.connectionId)
  await until(() => b.host.delivered.length === 1 && joins().includes('a2'), slowly)
  expect(joins()).toEqual(['a1', 'a2'])
  expect(b.host.joined[1]?.member).toMatchObject({ metadata: { name: 'ann' } })
  expect(texts(b.host)).toEqual(['hello'])
}, 60_000)

it('settled() and close() do not wait for XADDs a Redis that died never answered', async () => {
  // Its own server: this test kills it.
  const own = await RedisServer.start()
  try {
    const a = await node(own.url, { ...durable, heartbeatIntervalMs: 50, nodeTimeoutMs: 1000 })
    joinAs(a.adapter, a.host, 'r', member('a1'))
    await a.adapter.settled()
    await dieWithWritesUnanswered(own, a.adapter, () => {
      a.adapter.publish('r', Buffer.from('unanswered'), {})
    })
    expect(a.adapter.stats.outbox).toBe(1) // kept for when Redis is back
    expect(await within2s(a.adapter.settled())).toBe('resolved')
    expect(await within2s(a.adapter.close())).toBe('resolved')
  } finally {
    await own.crash()
  }
}, 20_000)
