// Redis stopped and started again under two nodes: what goes on, what is lost, what comes back.
import { afterEach, expect, it } from 'vitest'
import {
  client,
  closeOpen,
  dieWithWritesUnanswered,
  joinAs,
  leaveAs,
  member,
  node,
  numsub,
  until,
  within2s,
} from './helpers.ts'
import { RedisServer, useRedis } from './redis-server.ts'

const redis = useRedis()
afterEach(closeOpen)

const slowly = { turns: 100, waits: 1500, interval: 10 }

it('an outage is an event and a stat; rooms are resubscribed and delivery resumes after it', async () => {
  const fast = { heartbeatIntervalMs: 50, nodeTimeoutMs: 1000 }
  const a = await node(redis.url, fast)
  const b = await node(redis.url, fast)
  const events: string[] = []
  a.adapter.on('redisDown', (error) => events.push(`down ${error.name} ${error.code}`))
  a.adapter.on('redisUp', () => events.push('up'))
  joinAs(a.adapter, a.host, 'r', member('a1'))
  joinAs(b.adapter, b.host, 'r', member('b1'))
  await Promise.all([a.adapter.settled(), b.adapter.settled()])

  await redis.stop()
  await until(() => !a.adapter.stats.connected && !b.adapter.stats.connected, slowly)
  expect(events).toEqual(['down VerbTcpError ERR_REDIS_UNAVAILABLE'])
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
  expect(events).toEqual(['down VerbTcpError ERR_REDIS_UNAVAILABLE', 'up'])
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

it('settled() and close() do not wait for commands a Redis that died never answered', async () => {
  // Its own server: this test kills it.
  const own = await RedisServer.start()
  try {
    const a = await node(own.url, { heartbeatIntervalMs: 50, nodeTimeoutMs: 1000 })
    joinAs(a.adapter, a.host, 'r', member('a1'))
    joinAs(a.adapter, a.host, 's', member('a1'))
    await a.adapter.settled()
    // Written to a Redis that no longer answers: a broadcast, a leave and an unsubscribe.
    await dieWithWritesUnanswered(own, a.adapter, () => {
      a.adapter.publish('s', Buffer.from('unanswered'), {})
      leaveAs(a.adapter, a.host, 'r', member('a1'))
    })
    // ioredis keeps commands that were in flight to resend after a reconnect that never comes.
    expect(await within2s(a.adapter.settled())).toBe('resolved')
    expect(await within2s(a.adapter.close())).toBe('resolved')
  } finally {
    await own.crash()
  }
}, 20_000)

it('close() gives up on a Redis that is frozen with its connections open, after closeTimeoutMs', async () => {
  const own = await RedisServer.start()
  try {
    const a = await node(own.url, { closeTimeoutMs: 200 })
    joinAs(a.adapter, a.host, 'r', member('a1'))
    await a.adapter.settled()
    own.freeze()
    // No RST and no answer: only the timeout can end the goodbye. Without it this never resolves
    // and the test fails on vitest's own timeout.
    await a.adapter.close()
    expect(a.adapter.stats.connected).toBe(false)
    await a.adapter.close() // idempotent
    own.thaw()
    // Nothing left open: once Redis runs again it sees neither of the adapter's connections.
    const look = client(own.url)
    let left = -1
    for (let i = 0; i < 100 && left !== 0; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 20))
      left = String(await look.client('LIST')).match(/name=verb-tcp-rooms:/g)?.length ?? 0
    }
    expect(left).toBe(0)
  } finally {
    own.thaw()
    await own.crash()
  }
}, 20_000)

it('while a broadcast is unanswered, the next ones wait and go out together in one envelope', async () => {
  const a = await node(redis.url)
  const b = await node(redis.url)
  joinAs(a.adapter, a.host, 'r', member('a1'))
  joinAs(b.adapter, b.host, 'r', member('b1'))
  await Promise.all([a.adapter.settled(), b.adapter.settled()])
  const turn = () => new Promise((resolve) => setImmediate(resolve))
  const published = a.adapter.stats.published
  redis.freeze()
  try {
    a.adapter.publish('r', Buffer.from('1'), {})
    for (let i = 0; i < 3; i++) await turn()
    for (const text of ['2', '3', '4']) {
      a.adapter.publish('r', Buffer.from(text), {})
      for (let i = 0; i < 3; i++) await turn()
    }
    expect(a.adapter.stats.published - published).toBe(1)
  } finally {
    redis.thaw()
  }
  await until(() => b.host.delivered.length === 4, slowly)
  expect(b.host.delivered.map((d) => d.text)).toEqual(['1', '2', '3', '4'])
  expect(a.adapter.stats.published - published).toBe(2)
})
