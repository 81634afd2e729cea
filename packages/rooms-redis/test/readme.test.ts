// The README's examples, extracted and run against dist, with a private redis-server.
import { testReadme } from '@verb-tcp/readme-examples'
import { expect } from 'vitest'
import { useRedis } from './redis-server.ts'

const redis = useRedis()

testReadme(new URL('../README.md', import.meta.url), {
  env: () => ({ REDIS_URL: redis.url }),
  expect: {
    Example: ({ stdout }) => expect(stdout).toBe('{"type":"news","text":"hello from node A"}\n'),
  },
})
