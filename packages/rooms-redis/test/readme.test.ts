// The README's examples, extracted and run against dist, with a private redis-server.
import { testReadme } from '@verb-tcp/readme-examples'
import { afterAll, beforeAll, expect } from 'vitest'
import { RedisServer } from './redis-server.ts'

let redis: RedisServer | undefined

beforeAll(async () => {
  redis = await RedisServer.start()
})
afterAll(async () => {
  await redis?.stop()
})

testReadme(new URL('../README.md', import.meta.url), {
  env: () => ({ REDIS_URL: redis?.url ?? '' }),
  expect: {
    Example: ({ stdout }) => expect(stdout).toBe('{"type":"news","text":"hello from node A"}\n'),
  },
})
