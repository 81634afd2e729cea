// The adapter conformance suite of @verb-tcp/rooms, against real Redis.
import { adapterConformance } from '@verb-tcp/rooms/testing'
import { it } from 'vitest'
import { RedisAdapter } from '../src/index.ts'
import { useRedis } from './redis-server.ts'

const redis = useRedis()

for (const sharded of [false, true]) {
  let run = 0
  const cases = adapterConformance({
    async create(nodes) {
      // A prefix per case: nothing one case leaves in Redis is seen by the next.
      const prefix = `conformance-${sharded ? 's' : 'p'}-${++run}`
      const adapters = Array.from(
        { length: nodes },
        () => new RedisAdapter({ redis: redis.url, prefix, sharded }),
      )
      await Promise.all(adapters.map((adapter) => adapter.ready))
      return adapters
    },
  })
  for (const { name, run: body } of cases) {
    it(`${sharded ? 'sharded: ' : ''}${name}`, body, 30_000)
  }
}
