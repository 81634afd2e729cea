// The adapter conformance suite of @verb-tcp/rooms, against real Redis.
import { adapterConformance } from '@verb-tcp/rooms/testing'
import { it } from 'vitest'
import { RedisAdapter } from '../src/index.ts'
import { useRedis } from './redis-server.ts'

const redis = useRedis()

const modes = [
  { label: '', sharded: false, delivery: 'at-most-once' },
  { label: 'sharded: ', sharded: true, delivery: 'at-most-once' },
  { label: 'durable: ', sharded: false, delivery: 'durable' },
] as const

for (const { label, sharded, delivery } of modes) {
  let run = 0
  const cases = adapterConformance({
    async create(nodes) {
      // A prefix per case: nothing one case leaves in Redis is seen by the next.
      const prefix = `conformance-${delivery}-${sharded ? 's' : 'p'}-${++run}`
      const adapters = Array.from(
        { length: nodes },
        () => new RedisAdapter({ redis: redis.url, prefix, sharded, delivery }),
      )
      await Promise.all(adapters.map((adapter) => adapter.ready))
      return adapters
    },
  })
  for (const { name, run: body } of cases) {
    it(`${label}${name}`, body, 30_000)
  }
}
