// The README's examples, extracted and run against dist, with a private redis-server.
import { testReadme } from '@verb-tcp/readme-examples'
import { expect } from 'vitest'
import { useRedisCluster } from './redis-cluster.ts'
import { useRedis } from './redis-server.ts'

const redis = useRedis()
const cluster = useRedisCluster()

testReadme(new URL('../README.md', import.meta.url), {
  env: () => ({ REDIS_URL: redis.url, REDIS_CLUSTER_PORT: String(cluster.ports[0]) }),
  expect: {
    Example: ({ stdout }) => expect(stdout).toBe('{"type":"news","text":"hello from node A"}\n'),
    'Redis Cluster': ({ stdout }) => expect(stdout).toBe('registered on the cluster\n'),
    'Durable mode': ({ stdout }) => expect(stdout).toBe('durable: outbox 0, dropped 0, missed 0\n'),
  },
})
