import { expect, it } from 'vitest'
import { isCI, RedisServer, redisServerMissing, redisSkipReason } from './redis-server.ts'

const missing = redisServerMissing('/nonexistent/redis-server')

it('a missing redis-server is explained with how to install it', () => {
  expect(missing).toContain('apt-get install -y redis-server')
  expect(missing).toContain('brew install redis')
})

it('without redis-server the Redis tests are skipped with that reason, except under CI', () => {
  expect(redisSkipReason(missing, {})).toBe(missing)
  expect(redisSkipReason(missing, { CI: 'false' })).toBe(missing)
  // Under CI they run, and fail with the same reason.
  expect(redisSkipReason(missing, { CI: 'true' })).toBeUndefined()
  expect(redisSkipReason(missing, { CI: '1' })).toBeUndefined()
  // With redis-server, they run everywhere.
  expect(redisSkipReason(undefined, {})).toBeUndefined()
})

it('CI is any CI value but empty, 0 or false', () => {
  expect([undefined, '', '0', 'false', 'FALSE'].map((CI) => isCI({ CI }))).toEqual([
    false,
    false,
    false,
    false,
    false,
  ])
  expect(['1', 'true', 'yes'].map((CI) => isCI({ CI }))).toEqual([true, true, true])
})

it.runIf(redisServerMissing() === undefined)(
  'a started redis-server answers and stops',
  async () => {
    const redis = await RedisServer.start()
    try {
      expect(redis.running).toBe(true)
      expect(redis.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/)
    } finally {
      await redis.stop()
    }
    expect(redis.running).toBe(false)
  },
)

it.runIf(redisServerMissing() !== undefined)(
  'without redis-server, starting one rejects with how to install it (what the Redis tests fail with under CI)',
  async () => {
    await expect(RedisServer.start()).rejects.toThrow(redisServerMissing() as string)
  },
)
