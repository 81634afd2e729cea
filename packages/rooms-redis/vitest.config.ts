import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: '@verb-tcp/rooms-redis', include: ['test/**/*.test.ts'] },
})
