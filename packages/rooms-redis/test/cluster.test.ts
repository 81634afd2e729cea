// The adapter on a real three-master Redis Cluster (ioredis' Cluster client), in classic and
// sharded pub/sub: the adapter conformance suite of @verb-tcp/rooms (a master killed is in
// cluster-outage.test.ts).
import { adapterConformance } from '@verb-tcp/rooms/testing'
import { it } from 'vitest'
import { RedisAdapter } from '../src/index.ts'
import { useRedisCluster } from './redis-cluster.ts'

const cluster = useRedisCluster()

for (const sharded of [false, true]) {
  let run = 0
  const cases = adapterConformance({
    async create(nodes) {
      // A prefix per case: nothing one case leaves in Redis is seen by the next.
      const prefix = `cluster-${sharded ? 's' : 'p'}-${++run}`
      const adapters = Array.from(
        { length: nodes },
        () => new RedisAdapter({ redis: { cluster: cluster.nodes }, prefix, sharded }),
      )
      await Promise.all(adapters.map((adapter) => adapter.ready))
      return adapters
    },
  })
  for (const { name, run: body } of cases) {
    // A classic PUBLISH is answered by one master and reaches the others' subscribers later,
    // over the cluster bus: a node that subscribes to a room just after another node's notice
    // was answered may still get that notice. Documented in the README; sharded has no such gap.
    const racy = !sharded && name.startsWith('join and leave reach the other nodes')
    it.skipIf(racy)(`cluster${sharded ? ', sharded' : ''}: ${name}`, body, 30_000)
  }
}
