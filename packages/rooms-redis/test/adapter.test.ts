// The adapter against a real redis-server, with recording hosts standing in for room managers.
import { afterEach, describe, expect, it } from 'vitest'
import { RedisAdapter } from '../src/index.ts'
import {
  client,
  closeOpen,
  joinAs,
  leaveAs,
  member,
  node,
  numsub,
  shardNumsub,
  until,
} from './helpers.ts'
import { useRedis } from './redis-server.ts'

const redis = useRedis()
afterEach(closeOpen)

describe.each([
  ['pub/sub', false],
  ['sharded pub/sub', true],
])('%s', (_mode, sharded) => {
  const count = sharded ? shardNumsub : numsub

  it('a room channel is subscribed at the first local member and dropped at the last', async () => {
    const a = await node(redis.url, { sharded })
    const outside = client(redis.url)
    const channel = `test#room#lobby`
    joinAs(a.adapter, a.host, 'lobby', member('a1'))
    joinAs(a.adapter, a.host, 'lobby', member('a2'))
    await a.adapter.settled()
    expect(await count(outside, channel)).toBe(1)
    leaveAs(a.adapter, a.host, 'lobby', member('a1'))
    await a.adapter.settled()
    expect(await count(outside, channel)).toBe(1)
    leaveAs(a.adapter, a.host, 'lobby', member('a2'))
    await a.adapter.settled()
    expect(await count(outside, channel)).toBe(0)
  })

  it('a broadcast reaches the other node once, with its exclusion; the sender gets nothing back', async () => {
    const a = await node(redis.url, { sharded })
    const b = await node(redis.url, { sharded })
    joinAs(a.adapter, a.host, 'r', member('a1'))
    joinAs(b.adapter, b.host, 'r', member('b1'))
    await Promise.all([a.adapter.settled(), b.adapter.settled()])
    b.adapter.publish('r', Buffer.from('hello'), { exclude: 'b1' })
    b.adapter.publish('r', Buffer.from('world'), {})
    await until(() => a.host.delivered.length === 2)
    expect(a.host.delivered).toEqual([
      { room: 'r', text: 'hello', exclude: 'b1' },
      { room: 'r', text: 'world', exclude: undefined },
    ])
    await b.adapter.settled()
    expect(b.host.delivered).toEqual([])
  })

  it('only nodes with members in a room get its traffic', async () => {
    const a = await node(redis.url, { sharded })
    const b = await node(redis.url, { sharded })
    joinAs(a.adapter, a.host, 'one', member('a1'))
    joinAs(b.adapter, b.host, 'two', member('b1'))
    joinAs(a.adapter, a.host, 'two', member('a2'))
    await Promise.all([a.adapter.settled(), b.adapter.settled()])
    a.adapter.publish('one', Buffer.from('x'), {})
    a.adapter.publish('two', Buffer.from('y'), {})
    await until(() => b.host.delivered.length === 1)
    await a.adapter.settled()
    expect(b.host.delivered.map((d) => d.text)).toEqual(['y'])
  })

  it('joins and leaves reach the other nodes in the room, once each', async () => {
    const a = await node(redis.url, { sharded })
    const b = await node(redis.url, { sharded })
    joinAs(a.adapter, a.host, 'r', member('a1', { name: 'ann' }))
    await a.adapter.settled()
    joinAs(b.adapter, b.host, 'r', member('b1'))
    joinAs(b.adapter, b.host, 'r', member('b2'))
    b.adapter.join('r', member('b2')) // a second join of the same member is no news
    leaveAs(b.adapter, b.host, 'r', member('b2'))
    b.adapter.leave('r', member('b2'))
    await until(() => a.host.left.length === 1)
    expect(a.host.joined.map((j) => [j.member.connectionId, j.member.nodeId])).toEqual([
      ['b1', b.adapter.nodeId],
      ['b2', b.adapter.nodeId],
    ])
    expect(a.host.left.map((j) => j.member.connectionId)).toEqual(['b2'])
    expect(b.host.joined).toEqual([]) // b joined after a: it hears nothing of a1's earlier join
  })

  it('members() lists every node, with metadata, and says the answer is complete', async () => {
    const a = await node(redis.url, { sharded })
    const b = await node(redis.url, { sharded })
    const c = await node(redis.url, { sharded })
    joinAs(a.adapter, a.host, 'r', member('a1', { name: 'ann' }))
    joinAs(b.adapter, b.host, 'r', member('b1', { name: 'bob' }))
    await Promise.all([a.adapter.settled(), b.adapter.settled(), c.adapter.settled()])
    const result = await c.adapter.members('r', { timeoutMs: 5000 })
    expect(result.complete).toBe(true)
    expect(
      result.members
        .map((m) => [m.connectionId, m.nodeId, (m.metadata as { name: string }).name])
        .sort(),
    ).toEqual([
      ['a1', a.adapter.nodeId, 'ann'],
      ['b1', b.adapter.nodeId, 'bob'],
    ])
  })
})

it('members() says the answer is incomplete when a node does not reply in time', async () => {
  const a = await node(redis.url)
  // A subscriber that never answers: a hung node.
  const hung = client(redis.url)
  await hung.subscribe('test#members')
  joinAs(a.adapter, a.host, 'r', member('a1'))
  const result = await a.adapter.members('r', { timeoutMs: 50 })
  expect(result).toMatchObject({ complete: false, members: [{ connectionId: 'a1' }] })
  expect(a.adapter.stats.incompleteMembers).toBe(1)
})

it('a malformed envelope is counted and ignored; the node goes on', async () => {
  const a = await node(redis.url)
  const b = await node(redis.url)
  joinAs(a.adapter, a.host, 'r', member('a1'))
  await a.adapter.settled()
  const malformed: string[] = []
  a.adapter.on('malformed', (error) => malformed.push(error.code))
  const outside = client(redis.url)
  await outside.publish('test#room#r', '{"type":"broadcast","data":1}')
  await outside.publish('test#room#r', Buffer.from([1, 1, 1, 0x41, 0, 1]))
  await outside.publish('test#members', Buffer.from([1, 2, 1, 0x41, 0]))
  b.adapter.publish('r', Buffer.from('still here'), {})
  await until(() => a.host.delivered.length === 1)
  expect(a.adapter.stats.malformed).toBe(3)
  expect(malformed).toEqual(Array(3).fill('ERR_MALFORMED_ENVELOPE'))
  expect(a.host.delivered[0]?.text).toBe('still here')
})

it('a node whose heartbeat expired is reaped once: its members leave everywhere', async () => {
  const fast = { heartbeatIntervalMs: 20, nodeTimeoutMs: 200 }
  const a = await node(redis.url, fast)
  const b = await node(redis.url, fast)
  joinAs(a.adapter, a.host, 'r', member('a1'))
  joinAs(b.adapter, b.host, 'r', member('b1'))
  await Promise.all([a.adapter.settled(), b.adapter.settled()])
  // A node that registered, had members, and died without a goodbye (no heartbeat key).
  const outside = client(redis.url)
  await outside.sadd('{test}:nodes', 'ghost')
  await outside.hset(
    '{test}:members:ghost',
    '1:rg1',
    JSON.stringify({ n: 'ghost', m: { name: 'gus' }, t: 1 }),
    '1:rg2',
    JSON.stringify({ n: 'ghost', m: null, t: 2 }),
  )
  const down: string[] = []
  for (const n of [a, b]) n.adapter.on('nodeDown', (info) => down.push(info.nodeId))
  await until(() => a.host.left.length === 2 && b.host.left.length === 2)
  expect(down).toEqual(['ghost'])
  for (const n of [a, b]) {
    expect(n.host.left.map((l) => [l.room, l.member.connectionId, l.member.nodeId]).sort()).toEqual(
      [
        ['r', 'g1', 'ghost'],
        ['r', 'g2', 'ghost'],
      ],
    )
  }
  expect(await outside.sismember('{test}:nodes', 'ghost')).toBe(0)
  expect(await outside.exists('{test}:members:ghost')).toBe(0)
})

it('a clean close tells the others at once that its members left', async () => {
  const a = await node(redis.url)
  const b = await node(redis.url)
  joinAs(a.adapter, a.host, 'r', member('a1'))
  joinAs(b.adapter, b.host, 'r', member('b1'))
  joinAs(b.adapter, b.host, 's', member('b1'))
  await Promise.all([a.adapter.settled(), b.adapter.settled()])
  await b.adapter.close()
  await until(() => a.host.left.length === 1)
  expect(a.host.left.map((l) => l.member.connectionId)).toEqual(['b1'])
  const outside = client(redis.url)
  expect(await outside.sismember('{test}:nodes', b.adapter.nodeId)).toBe(0)
  expect(await outside.exists(`{test}:members:${b.adapter.nodeId}`)).toBe(0)
  expect(await numsub(outside, 'test#room#s')).toBe(0)
})

it('options are validated', () => {
  expect(() => new RedisAdapter({ nope: 1 } as never)).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
  )
  expect(() => new RedisAdapter({ redis: 5 as never })).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
  )
  expect(() => new RedisAdapter({ heartbeatIntervalMs: 100, nodeTimeoutMs: 100 })).toThrow(
    expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
  )
  expect(() => new RedisAdapter({ nodeId: 'x'.repeat(300) })).toThrow(
    expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
  )
  expect(() => new RedisAdapter({ sharded: 'yes' as never })).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
  )
  expect(() => new RedisAdapter({ delivery: 'exactly-once' as never })).toThrow(
    expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }),
  )
  expect(() => new RedisAdapter({ outboxMaxBytes: 0 })).toThrow(
    expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }),
  )
  expect(() => new RedisAdapter({ outboxMaxAgeMs: '5s' as never })).toThrow(
    expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }),
  )
  expect(() => new RedisAdapter({ outboxMaxAgeMs: 0 })).toThrow(
    expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
  )
  expect(() => new RedisAdapter({ streamMaxLen: 1.5 })).toThrow(
    expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
  )
})
