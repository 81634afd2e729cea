// Redis stopped and started again under two nodes: what goes on, what is lost, what comes back.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { client, closeOpen, joinAs, member, node, numsub, until } from './helpers.ts'
import { RedisServer } from './redis-server.ts'

let redis: RedisServer

beforeAll(async () => {
  redis = await RedisServer.start()
})
afterAll(async () => {
  await redis?.stop()
})
afterEach(closeOpen)

const slowly = { turns: 100, waits: 1500, interval: 10 }

it('an outage is an event and a stat; rooms are resubscribed and delivery resumes after it', async () => {
  const fast = { heartbeatIntervalMs: 50, nodeTimeoutMs: 1000 }
  const a = await node(redis.url, fast)
  const b = await node(redis.url, fast)
  const events: string[] = []
  a.adapter.on('redisDown', (error) => events.push(`down ${error.code}`))
  a.adapter.on('redisUp', () => events.push('up'))
  joinAs(a.adapter, a.host, 'r', member('a1'))
  joinAs(b.adapter, b.host, 'r', member('b1'))
  await Promise.all([a.adapter.settled(), b.adapter.settled()])

  await redis.stop()
  await until(() => !a.adapter.stats.connected && !b.adapter.stats.connected, slowly)
  expect(events).toEqual(['down ERR_REDIS_UNAVAILABLE'])
  expect(a.adapter.stats.outages).toBe(1)
  expect(a.host.errors.map((e) => (e as { code?: string }).code)).toContain('ERR_REDIS_UNAVAILABLE')

  // Nothing throws or rejects while Redis is away; what is published then is lost.
  b.adapter.publish('r', Buffer.from('lost'), {})
  joinAs(b.adapter, b.host, 'r', member('b2'))
  await b.adapter.settled()
  expect(b.adapter.stats.dropped).toBeGreaterThanOrEqual(2)
  expect(await a.adapter.members('r')).toMatchObject({ complete: false })

  await redis.restart()
  await until(() => a.adapter.stats.connected && b.adapter.stats.connected, slowly)
  expect(events).toEqual(['down ERR_REDIS_UNAVAILABLE', 'up'])
  const outside = client(redis.url)
  let subscribers = 0
  for (let i = 0; i < 200 && subscribers !== 2; i++) {
    subscribers = await numsub(outside, 'test#room#r')
    if (subscribers !== 2) await new Promise((resolve) => setTimeout(resolve, 10))
  }
  expect(subscribers).toBe(2)

  b.adapter.publish('r', Buffer.from('after'), {})
  await until(() => a.host.delivered.length === 1)
  expect(a.host.delivered.map((d) => d.text)).toEqual(['after'])

  // Redis came back empty; each node registered itself and its members again.
  let fields: string[] = []
  for (let i = 0; i < 200 && fields.length < 2; i++) {
    fields = await outside.hkeys(`{test}:members:${b.adapter.nodeId}`)
    if (fields.length < 2) await new Promise((resolve) => setTimeout(resolve, 10))
  }
  expect(fields.sort()).toEqual(['1:rb1', '1:rb2'])
  expect(await outside.sismember('{test}:nodes', a.adapter.nodeId)).toBe(1)
})

it('a publish connection that drops alone comes back without waiting for the other', async () => {
  const a = await node(redis.url)
  const b = await node(redis.url)
  let ups = 0
  a.adapter.on('redisUp', () => ups++)
  b.adapter.on('redisUp', () => ups++)
  joinAs(a.adapter, a.host, 'r', member('a1'))
  joinAs(b.adapter, b.host, 'r', member('b1'))
  await Promise.all([a.adapter.settled(), b.adapter.settled()])
  const outside = client(redis.url)
  // Subscribed connections are of type pubsub: this drops the publish connections only.
  await outside.call('CLIENT', 'KILL', 'TYPE', 'normal')
  await until(() => ups >= 2 && a.adapter.stats.connected && b.adapter.stats.connected, slowly)
  const result = await b.adapter.members('r', { timeoutMs: 5000 })
  expect(result.complete).toBe(true)
  b.adapter.publish('r', Buffer.from('again'), {})
  await until(() => a.host.delivered.length === 1, slowly)
})
