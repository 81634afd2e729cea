import { expect, it } from 'vitest'
import { redisServerMissing } from './redis-server.ts'

it('a missing redis-server fails the Redis tests with how to install it', () => {
  const message = redisServerMissing('/nonexistent/redis-server')
  expect(message).toContain('apt-get install -y redis-server')
  // This machine has to have it: the tests that need Redis never pass without it.
  expect(redisServerMissing()).toBeUndefined()
})
