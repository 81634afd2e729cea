// A master of a real three-master Redis Cluster killed (no replicas) under two nodes, then
// started again, in classic and sharded pub/sub.
import { afterEach, describe, expect, it } from 'vitest'
import { closeOpen, joinAs, member, nodeOn, until } from './helpers.ts'
import { useRedisCluster } from './redis-cluster.ts'

afterEach(closeOpen)

/**
 * A master killed (no replicas: nothing can take over its slots) under two nodes, then started
 * again empty. Sharded, the room's channel lives on the killed master; classic, the node
 * registry does (PUBLISH goes through any master).
 */
for (const sharded of [false, true]) {
  describe(sharded ? 'sharded' : 'classic', () => {
    // A cluster of its own: nothing another test did to a master is left in it.
    const cluster = useRedisCluster()
    it(`cluster${sharded ? ', sharded' : ''}: a killed master is an outage, reported once; after it comes back delivery resumes`, async () => {
      const prefix = `outage-${sharded ? 's' : 'p'}`
      const options = {
        redis: { cluster: cluster.nodes },
        prefix,
        sharded,
        heartbeatIntervalMs: 100,
        nodeTimeoutMs: 10_000,
      }
      const a = await nodeOn(options)
      const b = await nodeOn(options)
      const events: string[] = []
      a.adapter.on('redisDown', (error) => events.push(`down ${error.code}`))
      a.adapter.on('redisUp', () => events.push('up'))
      joinAs(a.adapter, a.host, 'r', member('a1'))
      joinAs(b.adapter, b.host, 'r', member('b1'))
      await Promise.all([a.adapter.settled(), b.adapter.settled()])

      const victim = cluster.masterOf(sharded ? `${prefix}#room#r` : `{${prefix}}:nodes`)
      await cluster.kill(victim)
      // A broadcast a turn, so that the outage shows in sharded mode too.
      const slowly = { turns: 200, waits: 2000, interval: 10 }
      await until(() => {
        a.adapter.publish('r', Buffer.from('during'), {})
        return events.length > 0
      }, slowly)
      expect(events[0]).toBe('down ERR_REDIS_UNAVAILABLE')
      // Once the cluster itself has noticed (its node timeout), the outage holds: no error per
      // failed command, no end while a master is missing.
      await until(() => !cluster.servesEverySlot(), slowly)
      a.adapter.publish('r', Buffer.from('lost'), {})
      await a.adapter.settled()
      const seen = [...events]
      expect(seen.at(-1)).toBe('down ERR_REDIS_UNAVAILABLE')
      for (let i = 0; i < 10; i++) a.adapter.publish('r', Buffer.from('lost'), {})
      await a.adapter.settled()
      expect(events).toEqual(seen)
      expect(a.adapter.stats).toMatchObject({
        connected: false,
        outages: seen.filter((e) => e.startsWith('down')).length,
      })

      await cluster.restart(victim)
      await until(() => events.at(-1) === 'up', slowly)
      await until(() => {
        a.adapter.publish('r', Buffer.from('after'), {})
        return b.host.delivered.some((d) => d.text === 'after')
      }, slowly)
    }, 90_000)
  })
}
